"""Stanford Cars loading from devkit .mat files written with scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from protopool.data import DatasetError, load_stanford_cars, open_dataset


@pytest.mark.parametrize("labels_in_devkit", [False, True])
def test_load_reads_devkit_and_both_test_label_locations(make_cars, labels_in_devkit: bool):
    root = make_cars(labels_in_devkit=labels_in_devkit)

    index = load_stanford_cars(root)

    assert index.format == "stanford_cars"
    assert index.class_names[1] == "Ram C/V Cargo Van Minivan 2012"
    assert (len(index.train), len(index.test)) == (6, 3)
    first = index.train[0]
    assert first.image_id == "cars_train/00001.jpg"
    assert first.path == index.root / "cars_train" / "00001.jpg"
    assert [s.label for s in index.train[:3]] == [0, 1, 2]
    # Devkit boxes (2, 3)-(21, 13) are 1-based and inclusive.
    assert (first.bbox.x, first.bbox.y, first.bbox.width, first.bbox.height) == (1, 2, 20, 11)


def test_root_may_be_the_stanford_cars_folder(make_cars) -> None:
    root = make_cars() / "stanford_cars"
    assert open_dataset(root).format == "stanford_cars"
    assert open_dataset(root.parent).num_classes == 3


def test_slash_in_class_name_never_becomes_a_path(make_cars) -> None:
    index = load_stanford_cars(make_cars())
    for sample in index.train + index.test:
        assert sample.path.is_file()
        assert "C/V" not in str(sample.path) and "Cargo" not in sample.image_id


def test_missing_test_labels_names_both_places(make_cars) -> None:
    root = make_cars()
    (root / "stanford_cars" / "cars_test_annos_withlabels.mat").unlink()
    with pytest.raises(DatasetError, match="cars_test_annos_withlabels.mat in .*devkit"):
        load_stanford_cars(root)


def test_class_out_of_range_names_file_and_record(make_cars) -> None:
    root = make_cars()
    path = root / "stanford_cars" / "devkit" / "cars_train_annos.mat"
    contents = scipy.io.loadmat(path)
    contents["annotations"][0, 4]["class"] = np.array([[9]], dtype=np.uint16)
    scipy.io.savemat(path, {"annotations": contents["annotations"]})
    with pytest.raises(DatasetError, match=r"cars_train_annos.mat: annotation 5: class 9"):
        load_stanford_cars(root)


def test_unlabelled_file_in_place_of_labels_is_reported(make_cars) -> None:
    root = make_cars()
    stanford = root / "stanford_cars"
    (stanford / "devkit" / "cars_test_annos.mat").replace(
        stanford / "cars_test_annos_withlabels.mat"
    )
    with pytest.raises(DatasetError, match=r"withlabels.mat: annotations lack field\(s\) class"):
        load_stanford_cars(root)


def test_corrupt_mat_file_is_reported(make_cars) -> None:
    root = make_cars()
    (root / "stanford_cars" / "devkit" / "cars_meta.mat").write_bytes(b"\x00garbage" * 20)
    with pytest.raises(DatasetError, match=r"cars_meta.mat as a MATLAB .mat file"):
        load_stanford_cars(root)


def test_missing_image_is_reported(make_cars) -> None:
    root = make_cars()
    (root / "stanford_cars" / "cars_test" / "00002.jpg").unlink()
    with pytest.raises(DatasetError, match=r"annotation 2: image file .*00002.jpg does not exist"):
        load_stanford_cars(root)


def test_wrong_variable_name_is_reported(make_cars) -> None:
    root = make_cars()
    scipy.io.savemat(root / "stanford_cars" / "devkit" / "cars_meta.mat", {"names": np.ones(3)})
    with pytest.raises(DatasetError, match=r"no variable 'class_names' \(variables found: names\)"):
        load_stanford_cars(root)
