"""The host layer of the network service: the only code that touches links, namespaces,
dnsmasq and packet filters, so that the agents above it read as intent.

- ``names``: how bridges and namespaces are named.
- ``namespaces``: named network namespaces, and running code inside one.
- ``netlink``: links, bridges, VLAN and VXLAN devices, FDB, addresses and routes (pyroute2).
- ``dnsmasq``: one DHCP server per network in its ``qdhcp-`` namespace.
- ``firewall``: security groups as iptables/ipset batches.
- ``nat``: SNAT and floating IPs in a ``qrouter-`` namespace.
"""
