"""Appeals: a second, different reviewer for every verdict and claim decision."""
