"""Bus topics of the network service (the interface on them: :mod:`stratus.network.rpc`)."""

SERVER = "network.server"
L2_AGENT = "network.l2_agent"
DHCP_AGENT = "network.dhcp_agent"
L3_AGENT = "network.l3_agent"
# The method agents serve on their topic: a hint that their desired state changed.
CHANGED = "changed"
