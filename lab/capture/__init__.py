"""Capture files and TCP: reading pcap/pcapng (with embedded TLS secrets), decoding frames,
reassembling TCP streams."""
