"""The network service: Neutron v2.0 compatible networks, subnets, ports, routers,
floating IPs and security groups, with an ML2-style plugin (type and mechanism drivers)
and the RPC interface its agents reconcile against."""
