import numpy as np
import pytest
import tensorflow as tf

from tfi2i.models.image_pool import ImagePool

SHAPE = (2, 2, 1)


def labelled(ids):
    """Images whose every pixel holds their id, so returned images can be told apart."""
    return tf.constant(np.broadcast_to(np.asarray(ids, np.float32)[:, None, None, None], (len(ids), *SHAPE)))


def ids_of(images):
    return [int(round(float(v))) for v in np.asarray(images)[:, 0, 0, 0]]


def stored_ids(pool):
    return ids_of(pool.images.numpy()[: int(pool.count.numpy())])


def test_size_zero_returns_the_images_and_holds_nothing():
    pool = ImagePool(0, SHAPE)
    assert ids_of(pool(labelled([1, 2]))) == [1, 2]
    assert pool.weights == []


def test_fills_up_returning_each_image_as_it_is():
    pool = ImagePool(5, SHAPE, seed=0)
    assert ids_of(pool(labelled([1, 2]))) == [1, 2]
    assert ids_of(pool(labelled([3, 4]))) == [3, 4]
    assert stored_ids(pool) == [1, 2, 3, 4]
    # The fifth image fills the pool and is returned; the sixth may already be swapped.
    returned = ids_of(pool(labelled([5, 6])))
    assert returned[0] == 5 and int(pool.count.numpy()) == 5
    assert returned[1] in (6, 1, 2, 3, 4, 5)


def test_once_full_half_the_images_are_swapped_and_none_is_lost():
    pool = ImagePool(10, SHAPE, seed=7)
    pool(labelled(range(10)))
    swapped, queries, next_id = 0, 0, 10
    for _ in range(100):
        batch = list(range(next_id, next_id + 4))
        next_id += 4
        before = stored_ids(pool)
        returned = ids_of(pool(labelled(batch)))
        after = stored_ids(pool)
        # Images are taken one at a time: every image is either returned or stored, and a
        # returned earlier image left the pool (it may have entered it in this same batch).
        assert sorted(before + batch) == sorted(after + returned)
        assert len(after) == 10
        swapped += sum(r != b for r, b in zip(returned, batch))
        queries += len(batch)
    assert 0.4 < swapped / queries < 0.6  # p = 0.5, 400 draws: 4 standard deviations either side


def test_the_seed_fixes_the_choices():
    def run(seed):
        pool = ImagePool(4, SHAPE, seed=seed)
        return [ids_of(pool(labelled(range(i * 3, i * 3 + 3)))) for i in range(10)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_works_in_a_traced_function_as_in_train_step():
    pool = ImagePool(4, SHAPE, seed=0)
    query = tf.function(lambda images: pool(images))
    assert ids_of(query(labelled([1, 2]))) == [1, 2]
    assert ids_of(query(labelled([3, 4]))) == [3, 4]
    assert int(pool.count.numpy()) == 4 and stored_ids(pool) == [1, 2, 3, 4]


def test_checkpoint_restores_contents_count_and_random_state(tmp_path):
    pool = ImagePool(4, SHAPE, seed=3)
    for i in range(3):
        pool(labelled(range(i * 2, i * 2 + 2)))
    path = tf.train.Checkpoint(variables=pool.variables).save(str(tmp_path / "pool"))
    expected = [ids_of(pool(labelled(range(100 + i * 2, 102 + i * 2)))) for i in range(5)]

    restored = ImagePool(4, SHAPE, seed=99)  # another seed: the state comes from the checkpoint
    tf.train.Checkpoint(variables=restored.variables).restore(path).assert_consumed()
    assert [ids_of(restored(labelled(range(100 + i * 2, 102 + i * 2)))) for i in range(5)] == expected


def test_negative_size_is_refused():
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(-1, SHAPE)
