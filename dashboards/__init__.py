"""Staff dashboard: charts of how discussions and claims go, over a period of Warsaw days."""
