import pytest

from smbcrm.core.instance_lock import AlreadyLocked, InstanceLock


def test_a_second_lock_on_the_same_file_is_refused_until_released(tmp_path):
    first = InstanceLock(tmp_path / "shop.db")
    first.acquire()
    second = InstanceLock(tmp_path / "shop.db")
    with pytest.raises(AlreadyLocked):
        second.acquire()
    first.release()
    second.acquire()
    assert second.held
    second.release()
