"""The worker side of a prompt over every worker: cluster client ids, and finding a cluster's sockets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from livews.live import LiveServer
from livews.live.attach_cluster import ClusterPrompt, cluster_helpers, cluster_sockets, worker_socket
from livews.live.attach_server import AttachServer
from livews.live.repl import namespace

from .conftest import T


def test_send_and_kick_take_a_worker_qualified_id_and_act_only_on_that_worker(live: LiveServer) -> None:
    ns = namespace(live, attached=True)
    cluster_helpers(ns, live, 2)
    assert ns["worker"] == 2
    with connect(f"{live.url}/echo") as ws:
        ws.send("ready")
        ws.recv(timeout=T)
        (client,) = live.clients()
        ns["send"](f"w1:{client.id}", "for worker 1")  # another worker's client: skipped here
        ns["send"](f"w2:{client.id}", "for worker 2")
        assert ws.recv(timeout=T) == "for worker 2"
        with pytest.raises(ValueError, match="per worker"):
            ns["send"](client.id, "a bare id")
        with pytest.raises(ValueError, match="w<worker>:<id>"):
            ns["kick"]("client 7")
        ns["kick"](f"w1:{client.id}")
        ns["kick"](f"w2:{client.id}", 4000, "bye")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=T)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


def test_cluster_sockets_lists_answering_worker_sockets_by_port_and_drops_stale_ones(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    listeners = []
    for index in (1, 2):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(worker_socket(4321, index, folder)))
        sock.listen(1)
        listeners.append(sock)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(worker_socket(4321, 3, folder)))
    stale.close()  # bound, never listening: what a killed worker leaves
    (folder / "4321.sock").touch()  # a single server's name is not a worker's
    try:
        found = cluster_sockets(folder)
        assert found == {4321: {1: folder / "4321.w1.sock", 2: folder / "4321.w2.sock"}}
        assert not worker_socket(4321, 3, folder).exists()
    finally:
        for sock in listeners:
            sock.close()


def test_a_cluster_prompt_runs_each_statement_on_every_worker_and_labels_the_output(
    handlers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two live servers in this process stand in for two workers: each has its own worker socket."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    workers = [LiveServer(handlers, port=0, call_timeout=T, watch_livews=False) for _ in (1, 2)]
    prompts: list[AttachServer] = []
    try:
        for index, live in enumerate(workers, start=1):
            live.start(timeout=T)

            def extend(ns: dict[str, object], live: LiveServer = live, index: int = index) -> None:
                cluster_helpers(ns, live, index)

            prompts.append(AttachServer(live, worker_socket(4321, index, folder), extend=extend).start())
        cluster = ClusterPrompt(4321, folder)
        try:
            assert "workers w1 w2" in cluster.banner
            capsys.readouterr()
            assert cluster.run("print('on', worker)")
            assert cluster.run("1 / 0 if worker == 1 else None")
            out, err = capsys.readouterr()
            assert "[w1] on 1\n[w2] on 2\n" in out
            assert "[w1] ZeroDivisionError" in err and "an error on w1 only" in out
            assert "worker" in cluster.complete("work")

            prompts[1].close()  # worker 2 goes away
            assert cluster.run("print('still', worker)")
            out, _err = capsys.readouterr()
            assert "[w1] still 1" in out and "not on w2 (not answering): this statement ran on w1 only" in out

            prompts[1] = AttachServer(workers[1], worker_socket(4321, 2, folder)).start()  # comes back
            assert cluster.run("print('back')")
            out, _err = capsys.readouterr()
            assert "[w2] rejoined as a new process" in out and "[w2] back" in out
            assert not cluster.run("exit()")
        finally:
            cluster.close()
    finally:
        for server in prompts:
            server.close()
        for live in workers:
            live.stop(timeout=T)
