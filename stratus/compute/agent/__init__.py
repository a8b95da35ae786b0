"""The compute agent: runs the servers of its host through a virt driver."""
