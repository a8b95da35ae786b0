"""Who may do what to images: Glance's default rules with the admin, member and reader
personas. Targets carry the image's ``owner`` (and ``member_id`` for membership
changes). What a caller may not even see (another project's private image) is a 404
before any rule runs; these rules decide what it may do with what it sees."""

from __future__ import annotations

from stratus.runtime.api.policy import ADMIN, Check, Policy, all_of, any_of, owner, role

READER: Check = any_of(ADMIN, role("reader"))
OWNER_MEMBER: Check = any_of(ADMIN, all_of(role("member"), owner("owner")))
THE_MEMBER: Check = any_of(ADMIN, all_of(role("member"), owner("member_id")))

DEFAULT_RULES: dict[str, Check] = {
    "add_image": OWNER_MEMBER,
    "get_image": READER,
    "get_images": READER,
    "modify_image": OWNER_MEMBER,
    "delete_image": OWNER_MEMBER,
    "upload_image": OWNER_MEMBER,
    "download_image": READER,
    # Making an image visible to every project is the operator's call, as in Glance.
    "publicize_image": ADMIN,
    "communitize_image": OWNER_MEMBER,
    # Handing an image to another project.
    "change_image_owner": ADMIN,
    "deactivate": ADMIN,
    "reactivate": ADMIN,
    "add_member": OWNER_MEMBER,
    "get_members": READER,
    "modify_member": THE_MEMBER,
    "delete_member": OWNER_MEMBER,
}


def default_policy() -> Policy:
    return Policy(DEFAULT_RULES)
