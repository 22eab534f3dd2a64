"""Model catalog, operator catalog and roofline time of one engine step."""
