"""The compute service (Nova v2.1): api, scheduler, conductor and compute agent."""
