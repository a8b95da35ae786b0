"""The scheduler: filters, then weighers, over the hosts' reported resources, and a claim
on the chosen host that no concurrent request can overcommit."""
