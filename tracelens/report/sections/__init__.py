"""One module per report section; each turns analysis frames into a :class:`Section`."""
