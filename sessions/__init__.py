"""Clinical and research wrapper: config, protocol, record, command line."""
