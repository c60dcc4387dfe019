"""A streaming read replica (notebook 06): it starts from a base backup and streams, the
router reads from it and writes to the primary, a write reaches it, lag is measured, the
read-your-writes fix sends a writer's reads to the primary, and no replica or slot survives."""

import time
import urllib.error
import urllib.request

import pytest

from scalelab import Stack

# behaviour only: no rate or CPU is judged, so the module runs beside the site build; every
# wait polls with a deadline, and the held-back replica holds its commits far longer than the
# test takes on busy CPUs
pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]

Q = 2_000


def aliases(url, method="GET", cookie=""):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                 headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()
        return resp.headers.get("X-DB-Queries-By-Alias", ""), resp.headers.get("Set-Cookie", "")


@pytest.fixture(scope="module")
def rstack():
    with Stack(read_replica=True, read_your_writes_s=2, questions=Q,
               label="test-db-replica") as s:
        yield s


def test_the_replica_streams_and_reads_go_to_it_writes_to_the_primary(rstack):
    rep = rstack.replica
    assert rep.query("SELECT pg_is_in_recovery()")[0][0] is True
    assert rep.is_ready(), "streaming from its slot"
    read, _ = aliases(rstack.app_url + "/")
    assert "replica=" in read and "default=" not in read, read
    qid = rstack.popularity()["question_ids"][0]
    wrote, cookie = aliases(rstack.app_url + f"/api/questions/{qid}/vote/", "POST")
    counts = dict(item.split("=") for item in wrote.split(","))
    # the vote's one read before its write (the member) may use the replica; its writes and
    # the score it reads back after them use the primary
    assert int(counts["default"]) >= 3 and int(counts.get("replica", 0)) <= 1, wrote
    assert "qa_wrote=1" in cookie and "Max-Age=2" in cookie


def test_a_write_reaches_the_replica_and_lag_is_measured(rstack):
    qid = rstack.popularity()["question_ids"][1]
    sql = "SELECT score FROM qa_question WHERE id = %s"
    db = rstack.dataset.db_name
    before = rstack.db.query(sql, (qid,), dbname=db)[0][0]
    aliases(rstack.app_url + f"/api/questions/{qid}/vote/", "POST")
    deadline = time.monotonic() + 10
    while rstack.replica.query(sql, (qid,), dbname=db)[0][0] != before + 1:
        assert time.monotonic() < deadline, "the write never reached the replica"
        time.sleep(0.05)
    lag = rstack.replica.lag()
    assert lag["lag_bytes"] >= 0 and not lag["lag_s"] < 0


def test_a_visitor_who_wrote_reads_from_the_primary_until_the_mark_expires(rstack):
    read, _ = aliases(rstack.app_url + "/", cookie="qa_wrote=1")
    assert "default=" in read and "replica=" not in read, read
    read, _ = aliases(rstack.app_url + "/")
    assert "replica=" in read


def test_no_slot_or_replica_data_survives_and_stale_slots_are_dropped():
    with Stack(read_replica=True, questions=Q, label="test-db-replica-stop") as st:
        rep = st.replica
        slot, data = rep.slot, rep.data_dir
        assert st.db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        rep.stop()
        assert not st.db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,))
        assert not data.exists()
        st.db.query("SELECT pg_create_physical_replication_slot('scalelab_left_behind')")
        assert st.db.drop_stale_slots() == ["scalelab_left_behind"]


def test_a_standby_copy_left_by_a_killed_run_is_removed_when_its_cluster_starts():
    with Stack(questions=Q, label="test-db-replica-stale") as st:
        cluster = st.db.cluster
        stale = st.db.data_dir.parent / f"{cluster}-replica"
    stale.mkdir()
    (stale / "PG_VERSION").write_text("15\n")
    with Stack(questions=Q, label="test-db-replica-stale-2") as st:
        assert st.db.cluster != cluster or not stale.exists()
    if stale.exists():  # another cluster was free first: clean up what this test made
        import shutil

        shutil.rmtree(stale)


def test_a_held_back_replica_shows_its_lag_in_bytes_and_misses_a_fresh_write(rstack):
    qid = rstack.popularity()["question_ids"][2]
    sql = "SELECT score FROM qa_question WHERE id = %s"
    db = rstack.dataset.db_name
    rstack.replica.set_apply_delay(5_000)
    try:
        before = rstack.replica.query(sql, (qid,), dbname=db)[0][0]
        aliases(rstack.app_url + f"/api/questions/{qid}/vote/", "POST")
        assert rstack.replica.lag()["lag_bytes"] > 0, "WAL the replica has not replayed"
        assert rstack.replica.query(sql, (qid,), dbname=db)[0][0] == before, "not yet there"
    finally:
        rstack.replica.set_apply_delay(0)
    with pytest.raises(ValueError, match="ms must be"):
        rstack.replica.set_apply_delay(-1)


def test_reads_fall_back_to_the_primary_while_the_replica_is_down_and_come_back(rstack):
    """The replica crashes: a read fails at most once per app process, then reads go to the
    primary and succeed; once the replica is back, reads go to it again."""
    url = rstack.app_url + "/api/questions/1/"

    def read():
        try:
            return aliases(url)[0]
        except urllib.error.HTTPError as exc:
            assert exc.code == 500
            return "failed"

    assert "replica" in read()
    rstack.replica.crash()
    seen = [read() for _ in range(12)]
    assert seen.count("failed") <= 2, seen  # two workers, each finds out once
    assert all("replica" not in s and "default" in s for s in seen if s != "failed"), seen
    rstack.replica.start()
    deadline = time.time() + 10
    while "replica" not in read():
        assert time.time() < deadline, "reads did not come back to the replica within 10 s"
        time.sleep(0.2)
