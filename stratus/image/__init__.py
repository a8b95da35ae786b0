"""The image service: Glance v2 compatible images, their data in a local file store,
and image sharing between projects."""
