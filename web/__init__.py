"""The reconciliation workbench: server-rendered pages over the warehouse (docs/decisions/0025)."""
