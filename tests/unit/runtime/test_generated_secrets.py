from stratus.runtime.generated_secrets import typeable_secret


def test_a_generated_secret_never_reads_as_a_command_line_option() -> None:
    # One URL-safe string in 64 starts with "-": 3,000 draws would hold ~47 of them.
    drawn = [typeable_secret(18) for _ in range(3000)]
    assert not [secret for secret in drawn if secret.startswith("-")]
    assert len(set(drawn)) == len(drawn)
    assert all(len(secret) == 24 for secret in drawn)
