"""The network service's agents, one of each kind per host that offers it: the L2 agent
(bridges, uplinks, security groups: ``l2``), the DHCP agent (``dhcp``) and the L3 agent
(routers: ``l3``). Each reconciles its host with the server's desired state through the
loop in ``loop``; none touches the database (see ``stratus.network.rpc``)."""
