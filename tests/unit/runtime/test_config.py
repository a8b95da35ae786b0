import subprocess
import sys
from pathlib import Path

import pytest

from stratus.runtime.config import Config, ConfigError, Opt, register

register(
    "test_section",
    Opt("number", 3, "A number.", int),
    Opt("flag", False, "A flag.", bool),
    Opt("names", ["a"], "Names.", list),
    Opt("where", "{data_dir}/sub", "A path under the data dir."),
    Opt("mode", "fast", "A mode.", choices=("fast", "slow")),
)


def write(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "stratus.conf"
    path.write_text(text)
    return Config(path)


def test_defaults_apply_without_a_file(tmp_path: Path) -> None:
    conf = Config(tmp_path / "missing.conf")
    assert conf.test_section.number == 3
    assert conf.test_section.flag is False
    assert conf.test_section.where == "/var/lib/stratus/sub"


def test_values_are_typed_and_placeholders_expand(tmp_path: Path) -> None:
    conf = write(
        tmp_path,
        "[DEFAULT]\ndata_dir = /srv/x\n[test_section]\nnumber = 7\n"
        "flag = yes\nnames = a, b ,c\nmode = slow\n",
    )
    assert conf.test_section.number == 7
    assert conf.test_section.flag is True
    assert conf.test_section.names == ["a", "b", "c"]
    assert conf.test_section.where == "/srv/x/sub"
    assert conf.test_section.mode == "slow"
    assert conf.data_dir == Path("/srv/x")


def test_conf_d_fragments_override_the_main_file(tmp_path: Path) -> None:
    (tmp_path / "stratus.conf.d").mkdir()
    (tmp_path / "stratus.conf.d" / "50-x.conf").write_text("[test_section]\nnumber = 9\n")
    conf = write(tmp_path, "[test_section]\nnumber = 7\n")
    assert conf.test_section.number == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[test_section]\nnumber = many\n", "is not a int"),
        ("[test_section]\nflag = maybe\n", "is not a boolean"),
        ("[test_section]\nmode = medium\n", "is not one of fast, slow"),
    ],
)
def test_bad_values_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    conf = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        conf.test_section.number, conf.test_section.flag, conf.test_section.mode  # noqa: B018


def test_undeclared_option_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no option"):
        Config(None).test_section.nothing  # noqa: B018


def test_a_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write(tmp_path, "not an ini file\n")


def test_declaring_an_option_twice_differently_fails() -> None:
    with pytest.raises(ConfigError, match="declared twice"):
        register("test_section", Opt("number", 4, "Another default.", int))


def test_the_configuration_doc_shows_every_option() -> None:
    """docs/configuration.md embeds ``stratus config sample``: regenerate it with
    ``tools/gen-config-doc.sh`` when this fails."""
    sample = subprocess.run(
        [sys.executable, "-m", "stratus.cli.main", "config", "sample"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "[identity]" in sample and "#port = 5000" in sample
    doc = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    assert sample in doc


def test_placeholders_may_name_another_section(tmp_path: Path) -> None:
    register("test_other", Opt("url", "http://{my_ip}:{test_section.number}/x", "A URL."))
    conf = write(tmp_path, "[DEFAULT]\nmy_ip = 192.0.2.1\n[test_section]\nnumber = 81\n")
    assert conf.test_other.url == "http://192.0.2.1:81/x"
