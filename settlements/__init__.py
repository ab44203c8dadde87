"""The settlement ledger: every money outcome of an order (a case), who owes whom, how
much, by when, and whether it happened. See DESIGN.md, "Cases and settlements"."""
