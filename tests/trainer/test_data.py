"""Reading transformed data: the row order must not depend on how Beam wrote the shards."""

import numpy as np

from trainer.data import canonical_order


def test_canonical_order_is_the_same_for_any_input_order():
    rows = {
        "customer_id": np.array([2, 0, 1, 0], dtype=np.int64),
        "product_id": np.array([5, 9, 7, 3], dtype=np.int64),
        "price": np.array([0.5, 0.1, 0.2, 0.3], dtype=np.float32),
    }
    shuffled = {name: values[[3, 1, 0, 2]] for name, values in rows.items()}
    first, second = canonical_order(rows), canonical_order(shuffled)
    for name in rows:
        np.testing.assert_array_equal(first[name], second[name])
    # Sorted by the column names' order (customer_id, price, product_id); rows stay whole.
    assert list(zip(first["customer_id"], first["product_id"], strict=True)) == [
        (0, 9), (0, 3), (1, 7), (2, 5),
    ]  # fmt: skip
    np.testing.assert_allclose(first["price"], [0.1, 0.3, 0.2, 0.5])


def test_canonical_order_sorts_by_every_position_of_a_multi_value_column():
    rows = {
        "customer_id": np.array([1, 1, 0], dtype=np.int64),
        "genres": np.array([[4, -1], [2, 7], [9, 9]], dtype=np.int64),
    }
    shuffled = {name: values[[2, 0, 1]] for name, values in rows.items()}
    first, second = canonical_order(rows), canonical_order(shuffled)
    np.testing.assert_array_equal(first["genres"], second["genres"])
    np.testing.assert_array_equal(first["genres"], [[9, 9], [2, 7], [4, -1]])
    np.testing.assert_array_equal(first["customer_id"], [0, 1, 1])


def test_canonical_order_of_nothing_is_nothing():
    empty = {"customer_id": np.zeros([0], dtype=np.int64)}
    assert canonical_order(empty)["customer_id"].shape == (0,)


def test_read_columns_gives_one_value_per_row_for_raw_specs(tmp_path):
    import tensorflow as tf

    from trainer.data import read_columns

    path = str(tmp_path / "part.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for city, price in ((b"Lodz", 2.5), (None, 4.0)):
            feature = {"price": tf.train.Feature(float_list=tf.train.FloatList(value=[price]))}
            if city is not None:  # the second row has no city
                feature["city"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[city]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    columns = read_columns(
        path,
        {
            "city": tf.io.VarLenFeature(tf.string),
            "price": tf.io.FixedLenFeature([1], tf.float32),
        },
    )
    assert columns["city"].tolist() == [b"Lodz", b""]
    assert columns["price"].tolist() == [2.5, 4.0]


def test_columns_dataset_shuffles_whole_rows_once_per_epoch_and_repeats_with_its_seed():
    from trainer.data import columns_dataset

    columns = {"id": np.arange(10), "pair": np.stack([np.arange(10), -np.arange(10)], 1)}

    def epochs(dataset, n=2):
        return [np.concatenate([b["id"].numpy() for b in dataset]) for _ in range(n)]

    plain = epochs(columns_dataset(columns, 4))
    assert [e.tolist() for e in plain] == [list(range(10))] * 2
    first, second = epochs(columns_dataset(columns, 4, shuffle=True, seed=3))
    assert sorted(first) == sorted(second) == list(range(10))  # every row once per epoch
    assert first.tolist() != second.tolist()  # a new order each epoch
    again = epochs(columns_dataset(columns, 4, shuffle=True, seed=3))
    assert [again[0].tolist(), again[1].tolist()] == [first.tolist(), second.tolist()]
    batch = next(iter(columns_dataset(columns, 4, shuffle=True, seed=3)))
    np.testing.assert_array_equal(batch["pair"][:, 0], batch["id"])  # rows stay whole
