//! An Odoo 18 JSON-RPC simulator built from the recorded golden corpus.
