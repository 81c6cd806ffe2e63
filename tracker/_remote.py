"""``tracker.Api`` against a tracking server: the same run views as the local reader, over the HTTP API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker import _validate
from tracker._api import STATES
from tracker._errors import Error, UsageError
from tracker._http import Client, Response
from tracker._journal import decode_record


def _answer(response: Response, what: str) -> Any:
    if response.status == 404:
        raise Error(f"{what}: {response.detail()}")
    if response.status != 200:
        raise Error(f"{what}: the server answered {response.detail()}")
    return response.body


class RemoteRunView:
    """One run on the server, read lazily (config, metadata and rows are fetched when asked for)."""

    def __init__(self, client: Client, described: dict[str, Any]) -> None:
        self._client = client
        self._run = described
        self._full: dict[str, Any] | None = None
        self.path = f"{described['entity']}/{described['project']}/{described['id']}"

    def __getattr__(self, name: str) -> Any:
        if name in ("id", "name", "project", "entity", "group", "job_type", "notes", "created_at", "updated_at"):
            return self._run.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._run.get("tags") or ())

    @property
    def state(self) -> str:
        return str(self._run["state"])

    @property
    def exit_code(self) -> int | None:
        return self._run.get("exit_code")

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._run.get("summary") or {})

    def _details(self) -> dict[str, Any]:
        if self._full is None:
            self._full = _answer(self._client.get(f"/api/runs/{self.path}"), f"run {self.path}")
        return self._full

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._details().get("config") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._details().get("metadata") or {})

    def history(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows in step order, as the local reader gives them (NaN and infinities restored)."""
        wanted = [keys] if isinstance(keys, str) else list(keys or [])
        body = _answer(self._client.get(f"/api/runs/{self.path}/history", keys=wanted or None), f"run {self.path}")
        return [row for row in (decode_record(_encoded(row)) for row in body["rows"]) if row is not None]

    def _artifacts(self, use: str) -> list[Any]:
        """The run's lineage (its uploaded artifacts.jsonl) matched by content to the server's versions."""
        import orjson

        from tracker._artifact_remote import base_path, server_artifact

        answer = self._client.request("GET", f"/api/runs/{self.path}/files/artifacts.jsonl", raw=True)
        if answer.status == 404:
            return []
        lines = _answer(answer, f"run {self.path}").split(b"\n")[:-1]
        versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        found = []
        for line in lines:
            record = orjson.loads(line)
            if record.get("use") != use:
                continue
            key = (record["project"], record["name"])
            if key not in versions:
                url = f"{base_path(self.entity, key[0])}/names/{key[1]}/versions"
                reply = self._client.get(url)
                versions[key] = reply.body["versions"] if reply.status == 200 else []
            for described in versions[key]:
                if described["digest"] == record["digest"]:
                    found.append(server_artifact(self._client, self.entity, key[0], described))
                    break
        return found

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged that reached the server, in order."""
        return self._artifacts("logged")

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used that are on the server, in order."""
        return self._artifacts("used")

    def __repr__(self) -> str:
        return f"<RemoteRunView {self.path} {self.state}>"


def _encoded(row: dict[str, Any]) -> bytes:
    import orjson

    return orjson.dumps(row)


class RemoteApi:
    """Read access to the runs a key may see on a server."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.root = base_url
        self._client = Client(base_url, api_key)

    def viewer(self) -> dict[str, Any]:
        return _answer(self._client.get("/api/viewer"), f"{self.base_url}")

    def projects(self) -> list[str]:
        return sorted({run.project for run in self.runs(None)})

    def runs(
        self,
        project: str | None,
        *,
        entity: str | None = None,
        group: str | None = None,
        tags: str | Iterable[str] | None = None,
        state: str | None = None,
        job_type: str | None = None,
        progress: Any = None,
    ) -> list[RemoteRunView]:
        if state is not None and state not in STATES:
            raise UsageError(f"state={state!r} is not a run state; choose one of {', '.join(STATES)}")
        if project is not None:
            _validate.identifier("project", project)
        query = {
            "entity": entity,
            "project": project,
            "group": group,
            "state": state,
            "job_type": job_type,
            "tag": [tags] if isinstance(tags, str) else list(tags or []) or None,
        }
        body = _answer(self._client.get("/api/runs", **query), f"runs on {self.base_url}")
        return [RemoteRunView(self._client, described) for described in body["runs"]]

    def run(self, path: str) -> RemoteRunView:
        """A run by ``entity/project/id`` (or ``project/id`` in the key's own entity)."""
        parts = path.strip("/").split("/") if isinstance(path, str) else []
        if len(parts) == 2:
            parts = [self.viewer()["entity"], *parts]
        if len(parts) != 3:
            raise UsageError(f"run path {path!r} must be 'entity/project/run_id' or 'project/run_id'")
        for part, what in zip(parts, ("entity", "project", "run id"), strict=True):
            _validate.identifier(f"run path {path!r}: {what}", part)
        return RemoteRunView(self._client, _answer(self._client.get(f"/api/runs/{'/'.join(parts)}"), f"run {path}"))

    def _artifact_base(self, project: str, entity: str | None) -> tuple[str, str, str]:
        from tracker._artifact_remote import base_path

        entity = _validate.identifier("entity", entity) if entity is not None else self.viewer()["entity"]
        _validate.identifier("project", project)
        return entity, project, base_path(entity, project)

    def artifact(self, name: str, type: str | None = None) -> Any:
        """One artifact version on the server: ``[entity/]project/name[:alias|:v3]`` (``latest`` if no alias)."""
        from tracker._artifact_remote import server_artifact
        from tracker._artifacts import checked_name

        path, _, alias = name.partition(":") if isinstance(name, str) else ("", "", "")
        parts = path.split("/")
        if len(parts) not in (2, 3):
            raise UsageError(f"artifact {name!r} must be '[entity/]project/name', with ':alias' or ':v3' if wanted")
        entity, project, base = self._artifact_base(parts[-2], parts[0] if len(parts) == 3 else None)
        artifact_name = checked_name(f"artifact {name!r}: name", parts[-1])
        alias = checked_name(f"artifact {name!r}: alias", alias or "latest")
        described = _answer(self._client.get(f"{base}/names/{artifact_name}/{alias}"), f"artifact {name}")
        artifact = server_artifact(self._client, entity, project, described)
        if type is not None and artifact.type != type:
            raise UsageError(f"artifact {artifact.qualified_name} is of type {artifact.type!r}, not {type!r}")
        return artifact

    def artifact_versions(self, project: str, name: str, *, entity: str | None = None) -> list[Any]:
        """Every version of one artifact on the server, oldest first."""
        from tracker._artifact_remote import server_artifact
        from tracker._artifacts import checked_name

        entity, project, base = self._artifact_base(project, entity)
        body = _answer(self._client.get(f"{base}/names/{checked_name('name', name)}/versions"), f"artifact {name}")
        return [server_artifact(self._client, entity, project, described) for described in body["versions"]]

    def artifact_names(self, project: str, *, entity: str | None = None) -> list[str]:
        """The artifact names of a project on the server."""
        base = self._artifact_base(project, entity)[2]
        return list(_answer(self._client.get(f"{base}/names"), f"artifacts of {project}")["names"])
