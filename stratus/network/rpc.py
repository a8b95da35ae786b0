"""placeholder"""

L2_AGENT_TOPIC = "network.l2_agent"
DHCP_AGENT_TOPIC = "network.dhcp_agent"
L3_AGENT_TOPIC = "network.l3_agent"
CHANGED = "changed"
