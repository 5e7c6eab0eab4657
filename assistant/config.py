"""Settings: one declarative list, read from defaults, a TOML file and `ASSISTANT_<NAME>` variables.

Precedence, lowest first: the default in `SETTINGS`, the TOML file (`ASSISTANT_CONFIG`, else
`<home>/config.toml`), then the environment. `assistant config` prints each effective value and where
it came from. Every setting is documented in the README (a test checks this).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_home() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "contact-assistant")


@dataclass(frozen=True)
class Setting:
    """One setting.

    Attributes:
        name: lower-case name; the environment variable is `ASSISTANT_<NAME>` upper-cased.
        default: the value used when nothing sets it; a callable is evaluated lazily; a string
            containing `{home}` is expanded with the effective `home`.
        help: one line for `assistant config` and the README.
        kind: `str`, `int`, `float`, `bool` or `path`.
    """

    name: str
    default: Any
    help: str
    kind: str = "str"

    @property
    def env(self) -> str:
        return "ASSISTANT_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("home", _default_home, "Where the database, index, model cache and language packs live.", "path"),
    Setting(
        "kb_dir", str(REPO_ROOT / "knowledge_base"), "Knowledge-base folder (Markdown articles).", "path"
    ),
    Setting(
        "db", "{home}/assistant.duckdb", "DuckDB file holding calls, suggestions, feedback, digests.", "path"
    ),
    Setting("index_dir", "{home}/index", "Where the FAISS index and its manifest are kept.", "path"),
    Setting("model_cache", "{home}/models", "Where Whisper models rebuilt from packages are cached.", "path"),
    Setting("language_packs", "{home}/languages", "Where argos translation packs are installed.", "path"),
    Setting(
        "whisper_model", "base", "Whisper model: base, tiny.en, a local directory, or a model name.", "str"
    ),
    Setting(
        "whisper_engine", "faster-whisper", "Transcription engine: faster-whisper or openai-whisper.", "str"
    ),
    Setting("threads", lambda: max(1, os.cpu_count() or 1), "CPU threads for Whisper and embeddings.", "int"),
    Setting(
        "compute_type", "int8", "CTranslate2 compute type for faster-whisper (int8, float32 ...).", "str"
    ),
    Setting("beam_size", 5, "Whisper beam size (1 = greedy, faster).", "int"),
    Setting("word_timestamps", False, "Ask Whisper for word-level timestamps.", "bool"),
    Setting("no_speech_threshold", 0.6, "Drop a segment whose no-speech probability is above this.", "float"),
    Setting(
        "compression_ratio_threshold",
        2.4,
        "Drop a segment whose text compression ratio is above this.",
        "float",
    ),
    Setting(
        "log_prob_threshold", -1.0, "With high no-speech probability, drop segments below this.", "float"
    ),
    Setting(
        "speech_languages",
        "-la",
        "Languages Whisper may detect in speech: a list (en,es,vi) keeps only those, -xx drops one.",
        "str",
    ),
    Setting(
        "agent_channel", "left", "Which stereo channel is the agent: left or right (caller the other).", "str"
    ),
    Setting("allow_network", False, "Allow downloading models not installed locally.", "bool"),
    Setting(
        "embedding_model", "all-MiniLM-L6-v2", "Sentence-transformers model name or local directory.", "str"
    ),
    Setting(
        "search_threshold", 0.52, "Knowledge search abstains when the best score is below this.", "float"
    ),
    Setting("search_k", 3, "How many knowledge-base hits to return by default.", "int"),
    Setting("agent_language", "en", "The language agents read (ISO 639-1).", "str"),
    Setting(
        "llm_url",
        "",
        "Optional OpenAI-compatible endpoint (e.g. http://127.0.0.1:8080/v1) for an extra "
        "call summary; empty: off.",
        "str",
    ),
    Setting("llm_model", "local", "Model name sent to the llm_url endpoint.", "str"),
    Setting("llm_api_key", "", "Bearer key for the llm_url endpoint, if it needs one.", "str"),
    Setting(
        "digest_emerging_factor",
        2.0,
        "Digest: a topic is emerging when new or at this multiple of its 7-day mean.",
        "float",
    ),
    Setting(
        "digest_cluster_similarity",
        0.55,
        "Digest: cosine similarity (average linkage) at which callers' needs join one topic.",
        "float",
    ),
    Setting("digest_min_topic_calls", 3, "Digest: a group of fewer calls is not reported as a topic.", "int"),
    Setting("host", "127.0.0.1", "Service: address to bind; anything but localhost needs api_token.", "str"),
    Setting("port", 8700, "Service: TCP port.", "int"),
    Setting("api_token", "", "Service: bearer token for the API and media sockets (empty: none).", "str"),
    Setting("service_url", "http://127.0.0.1:8700", "Where the console and CLI reach the service.", "str"),
    Setting("max_calls", 8, "Service: concurrent live calls; more are refused with a close reason.", "int"),
    Setting(
        "live_workers",
        2,
        "Service: model workers decoding live calls at once (one Whisper, as many CTranslate2 replicas).",
        "int",
    ),
    Setting(
        "live_batch",
        4,
        "Service: finals of up to this many calls decoded together in one Whisper batch (1: one by one).",
        "int",
    ),
    Setting(
        "live_batch_wait",
        0.25,
        "Service: a worker holding a final waits up to this long (s) for finals other calls are about to cut.",
        "float",
    ),
    Setting("max_frame_bytes", 65536, "Service: largest media WebSocket message accepted.", "int"),
    Setting("max_frames_per_second", 2000, "Service: media messages per second per connection.", "int"),
    Setting("max_body_bytes", 1_000_000, "Service: largest HTTP request body accepted (413 above).", "int"),
    Setting(
        "media_start_timeout", 10.0, "Service: seconds a media socket may wait before its start.", "float"
    ),
    Setting(
        "media_idle_timeout", 15.0, "Service: seconds without a message that close a media socket.", "float"
    ),
    Setting(
        "media_silence_timeout",
        120.0,
        "Service: seconds of wall time without speech that close a media socket (a paused AudioHook stream excepted).",
        "float",
    ),
    Setting(
        "audiohook_endpoint_silence",
        0.3,
        "Live: the pause (s) that ends an utterance on AudioHook calls, whose transcripts go back to Genesys phrase by phrase.",
        "float",
    ),
    Setting(
        "media_key_share",
        0.75,
        "Service: the share of max_calls one API key may hold at once (1: no limit).",
        "float",
    ),
    Setting(
        "realtime_slack",
        5.0,
        "Live: seconds of audio a call may run ahead of real time before waiting.",
        "float",
    ),
    Setting(
        "max_utterance_chars", 20_000, "Longer utterance texts are truncated (noted on the call).", "int"
    ),
    Setting("max_call_chars", 200_000, "A call's text beyond this is dropped (noted on the call).", "int"),
    Setting("partial_interval", 1.0, "Live: seconds of speech between partial captions.", "float"),
    Setting("endpoint_silence", 0.6, "Live: seconds of silence that end an utterance.", "float"),
    Setting("live_beam_size", 1, "Live: Whisper beam for final captions (1 = greedy, fastest).", "int"),
    Setting("partial_model", "tiny.en", "Live: Whisper for partials of English ('' = as finals).", "str"),
    Setting("short_context", True, "Live: size Whisper's encoder window to the utterance, not 30 s.", "bool"),
    Setting(
        "console_refresh", 0.5, "Console: seconds between live-call updates (captions, suggestions).", "float"
    ),
    Setting(
        "allowed_hosts",
        "",
        "Service: host names requests may name in Host and Origin (comma-separated; "
        "localhost, 127.0.0.1, ::1 and the bound host always).",
        "str",
    ),
    Setting("session_hours", 8.0, "Sign-in: hours a session lasts before signing in again.", "float"),
    Setting(
        "lockout_minutes",
        15.0,
        "Sign-in: minutes a user name stays locked for one address after 5 wrong passwords from it "
        "(each further lock of that address lasts twice as long, at most a day).",
        "float",
    ),
    Setting(
        "retention_transcript_days",
        365,
        "Retention: days a call (transcript, summary, suggestions, feedback) is kept; 0 = for ever.",
        "int",
    ),
    Setting("retention_audit_days", 730, "Retention: days an audit-log line is kept; 0 = for ever.", "int"),
    Setting(
        "publish_needs_second_reviewer",
        False,
        "Articles: a draft must be published by another knowledge manager than its author.",
        "bool",
    ),
    Setting("oidc_issuer", "", "Single sign-on: the OpenID Connect provider's URL (empty: off).", "str"),
    Setting("oidc_client_id", "", "Single sign-on: the client id ID tokens are issued to.", "str"),
    Setting(
        "oidc_roles_claim", "roles", "Single sign-on: the ID-token claim that holds roles or groups.", "str"
    ),
    Setting(
        "oidc_role_map",
        "",
        "Single sign-on: CLAIM_VALUE=ROLE,... (empty: the claim's values are role names).",
        "str",
    ),
    Setting("oidc_name_claim", "preferred_username", "Single sign-on: the claim used as user name.", "str"),
    Setting("first_partial", 0.7, "Live: seconds of utterance audio before its first partial.", "float"),
    Setting(
        "alert_escalation_words",
        "supervisor,your manager,a manager,the manager,someone in charge,complain,escalate",
        "Alerts: words or phrases (comma-separated) in the caller's English text that ask for a "
        "supervisor or to complain; each matches at the start of a word (complain: complaint too).",
        "str",
    ),
    Setting(
        "alert_negative_turns", 3, "Alerts: caller turns in a row with negative sentiment (0: off).", "int"
    ),
    Setting(
        "alert_no_answer_needs", 2, "Alerts: needs in one call without an approved answer (0: off).", "int"
    ),
    Setting(
        "alert_silence_seconds", 30.0, "Alerts: seconds of silence or hold in a live call (0: off).", "float"
    ),
    Setting(
        "alert_long_call_minutes", 15.0, "Alerts: minutes a call may last before an alert (0: off).", "float"
    ),
    Setting(
        "alert_webhook_url",
        "",
        "Alerts: an http(s) URL that receives each alert as JSON (empty: none).",
        "str",
    ),
    Setting(
        "scorecards_dir",
        "{home}/scorecards",
        "Quality: the folder of scorecard YAML files every finished call is scored against.",
        "path",
    ),
    Setting(
        "wrapup_codes",
        "",
        "Quality: the YAML file of wrap-up codes suggested at call end (empty: none).",
        "str",
    ),
    Setting(
        "console_announce_agent",
        False,
        "Console: the screen-reader live region also announces the agent's own finals.",
        "bool",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    kind = setting.kind
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "path":
            return str(Path(str(raw)).expanduser())
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {setting.name} from {source}: {raw!r} is not a valid {kind}") from None


@dataclass(frozen=True)
class Value:
    """An effective setting value and where it came from (`default`, a file path, or a variable)."""

    name: str
    value: Any
    source: str


class Config:
    """Effective settings. Read an attribute by setting name: `config.whisper_model`."""

    def __init__(self, values: Mapping[str, Value]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name].value
        except KeyError:
            raise AttributeError(name) from None

    def values(self) -> list[Value]:
        return [self._values[s.name] for s in SETTINGS]

    def replace(self, **overrides: Any) -> Config:
        """A copy with some values set explicitly (used by CLI options)."""
        new = dict(self._values)
        for name, raw in overrides.items():
            if raw is None:
                continue
            new[name] = Value(name, _convert(_BY_NAME[name], raw, "option"), "command-line option")
        return Config(new)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    table = data.get("assistant", data)
    unknown = sorted(set(table) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return table


def load(env: Mapping[str, str] | None = None) -> Config:
    """Resolve every setting. `env` defaults to `os.environ` (tests pass their own)."""
    env = os.environ if env is None else env
    values: dict[str, Value] = {}

    def resolve(setting: Setting, file_values: dict[str, Any], file_source: str) -> Value:
        if setting.env in env:
            return Value(setting.name, _convert(setting, env[setting.env], setting.env), setting.env)
        if setting.name in file_values:
            return Value(setting.name, _convert(setting, file_values[setting.name], file_source), file_source)
        default = setting.default
        if callable(default):
            default = default()
        if isinstance(default, str) and "{home}" in default:
            default = default.replace("{home}", values["home"].value)
        return Value(setting.name, _convert(setting, default, "default"), "default")

    # `home` first without the file, since the file's default location depends on it.
    values["home"] = resolve(_BY_NAME["home"], {}, "")
    file_path = (
        Path(env["ASSISTANT_CONFIG"])
        if "ASSISTANT_CONFIG" in env
        else Path(values["home"].value) / "config.toml"
    )
    file_values: dict[str, Any] = {}
    if file_path.is_file():
        file_values = _read_toml(file_path)
    elif "ASSISTANT_CONFIG" in env:
        raise ConfigError(f"config file {file_path} (from ASSISTANT_CONFIG) does not exist")
    source = str(file_path)
    values["home"] = resolve(_BY_NAME["home"], file_values, source)
    for setting in SETTINGS:
        if setting.name != "home":
            values[setting.name] = resolve(setting, file_values, source)
    return Config(values)


_cached: Config | None = None


def get() -> Config:
    """The process-wide settings, loaded once."""
    global _cached
    if _cached is None:
        _cached = load()
    return _cached


def reset() -> None:
    """Forget the cached settings (tests change the environment)."""
    global _cached
    _cached = None
