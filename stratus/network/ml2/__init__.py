"""The Modular Layer 2 plugin: type drivers give networks their segments (local, flat,
VLAN, VXLAN), mechanism drivers bind ports to hosts (Linux bridge), and the manager puts
them together as ``[ml2]`` configures. Another mechanism driver is one class and one
entry in :data:`stratus.network.ml2.mechanism.DRIVERS`."""
