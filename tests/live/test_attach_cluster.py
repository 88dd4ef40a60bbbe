"""The worker side of a prompt over every worker: cluster client ids, and finding a cluster's sockets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from livews.live import LiveServer
from livews.live.attach_cluster import cluster_helpers, cluster_sockets, worker_socket
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
