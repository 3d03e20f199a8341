"""Readers of HAProxy's CSV, RabbitMQ's JSON and Docker's stats, on sample payloads."""

from mafa_cli.watch import parse

HAPROXY = (
    "# pxname,svname,req_tot,hrsp_5xx,status,addr,stot\n"
    "web,FRONTEND,100,0,OPEN,,100\n"
    "senders,sender1,60,1,UP,172.20.0.7:8000,60\n"
    "senders,sender2,40,0,UP,172.20.0.8:8000,40\n"
    "senders,sender3,0,0,MAINT (resolution),,0\n"
    "senders,BACKEND,100,1,UP,,100\n"
    "receivers,receiver1,5,0,UP,172.20.0.9:8000,5\n"
)


def test_haproxy_servers_of_one_backend() -> None:
    servers = parse.haproxy_servers(HAPROXY, "senders")
    assert [(s.address, s.requests, s.errors, s.status) for s in servers] == [
        ("172.20.0.7", 60, 1, "UP"),
        ("172.20.0.8", 40, 0, "UP"),
    ]


def test_queue_figures() -> None:
    work = {
        "messages_ready": 7,
        "messages_unacknowledged": 2,
        "consumers": 6,
        "message_stats": {
            "publish_details": {"rate": 12.5},
            "deliver_get_details": {"rate": 11.0},
            "ack_details": {"rate": 9.0},
            "redeliver_details": {"rate": 2.0},
        },
    }
    figures = parse.queue_figures(work, {"messages": 3})
    assert (figures.ready, figures.unacked, figures.total, figures.dead_letters) == (7, 2, 9, 3)
    assert (figures.publish_rate, figures.redeliver_rate) == (12.5, 2.0)
    assert parse.queue_figures({}, {}).total == 0


def test_unacked_by_node() -> None:
    connections = [
        {"name": "c1", "client_properties": {"connection_name": "receiver-a"}},
        {"name": "c2", "client_properties": {"connection_name": "receiver-a"}},
        {"name": "c3", "client_properties": {}},
    ]
    channels = [
        {"connection_details": {"name": "c1"}, "messages_unacknowledged": 1},
        {"connection_details": {"name": "c2"}, "messages_unacknowledged": 2},
        {"connection_details": {"name": "c3"}, "messages_unacknowledged": 5},
    ]
    assert parse.unacked_by_node(connections, channels) == {"receiver-a": 3}


def test_cpu_and_memory() -> None:
    sample = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000},
            "system_cpu_usage": 20_000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000},
        "memory_stats": {"usage": 50 * 1024 * 1024, "stats": {"inactive_file": 10 * 1024 * 1024}},
    }
    before = parse.cpu_sample(sample, "precpu_stats")
    after = parse.cpu_sample(sample)
    assert parse.cpu_percent(before, after) == 40.0  # 2000 of 10000 system ns on 2 cpus
    assert parse.cpu_percent(None, after) is None
    assert parse.memory_mib(sample) == 40.0
    assert parse.memory_mib({}) is None
