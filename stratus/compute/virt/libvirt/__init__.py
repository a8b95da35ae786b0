"""The libvirt driver: QEMU domains, with KVM where the host offers a working one."""
