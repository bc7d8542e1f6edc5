"""A small scene corpus (shared data + generated pictures), features and index built once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.demo.samples import synthetic_picture
from tessera.features import LocalFeatures, SceneIndex, Vocabulary, extract

# scene name -> image paths (relative to shared/data); all images of a scene show the same place
SCENES: dict[str, list[str]] = {
    "boat": [f"homography-boat-iguazu-kaze/boat/img{i}.pgm" for i in (1, 3, 5)],
    "graf": [f"affnet-graffiti-and-wide-baseline-pairs/graf/img{i}.png" for i in (1, 2, 3, 4)],
    "fountain": [f"strecha-mvs-fountain/fountain-P11/images/000{i}.jpg" for i in (0, 2, 4)],
    "river": ["vlfeat-mosaic-pairs/river1.jpg", "vlfeat-mosaic-pairs/river2.jpg"],
    "roofs": ["vlfeat-mosaic-pairs/roofs1.jpg", "vlfeat-mosaic-pairs/roofs2.jpg"],
    "dvd": ["artwork-dvd-cover-smvs-pair/Ace_0.png", "artwork-dvd-cover-smvs-pair/Ace_1.png"],
    "office": [
        f"tum-rgbd-fr3-office-frames/{t}.png"
        for t in ("1341847980.722988", "1341847981.726650", "1341847982.730674")
    ],
}

DISTRACTOR_FILES: list[str] = [
    *(f"ocr-opencv-contrib-scenetext/scenetext0{i}.jpg" for i in range(1, 7)),
    *(
        f"ocr-easyocr-signs/{n}"
        for n in ("chinese.jpg", "english.png", "french.jpg", "japanese.jpg", "korean.png")
    ),
    *(
        f"imagededup-ukbench-transforms/base_images/ukbench{n}.jpg"
        for n in ("00120", "01380", "08976", "08996", "09012", "09040", "09060", "09348")
    ),
    "landmark-phototourism-samples/london_bridge_19481797_2295892421.jpg",
    "landmark-phototourism-samples/piazza_san_marco_06795901_3725050516.jpg",
    "landmark-phototourism-samples/st_pauls_cathedral_30776973_2635313996.jpg",
    "landmark-phototourism-samples/united_states_capitol_26757027_6717084061.jpg",
    "landmark-sceaux-castle-openmvg/100_7100.JPG",
    "icl-nuim-livingroom-frames/250.png",
    "lightglue-pairs/DSC_0410.JPG",
    "augly-image-augmentations/inputs/dfdc_2.jpg",
    "augly-image-augmentations/inputs/dfdc_3.jpg",
    *(
        f"skimage-public-domain-originals/{n}"
        for n in (
            "astronaut.png",
            "brick.png",
            "camera.png",
            "chelsea.png",
            "coffee.png",
            "coins.png",
        )
    ),
]
N_GENERATED = 12


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@dataclass
class Corpus:
    data: Path
    images: dict[str, np.ndarray]
    features: dict[str, LocalFeatures]
    scene_of: dict[str, str]
    index: SceneIndex

    def rgb(self, media_id: str) -> np.ndarray:
        return self.images[media_id]


@pytest.fixture(scope="session")
def corpus(data_dir: Path) -> Corpus:
    images: dict[str, np.ndarray] = {}
    scene_of: dict[str, str] = {}
    for scene, files in SCENES.items():
        for f in files:
            images[f] = load_rgb(data_dir / f)
            scene_of[f] = scene
    for f in DISTRACTOR_FILES:
        images[f] = load_rgb(data_dir / f)
        scene_of[f] = "distractor:" + f
    for s in range(N_GENERATED):
        name = f"generated/{s}"
        images[name] = np.asarray(synthetic_picture(640, 480, 1000 + s).convert("RGB"))
        scene_of[name] = "distractor:" + name
    features = {m: extract(rgb) for m, rgb in images.items()}
    sample = np.concatenate([f.float_desc() for f in features.values()])
    vocab = Vocabulary.train(sample, 1024, iterations=10)
    index = SceneIndex(vocab)
    for m, f in features.items():
        index.add(m, f)
    return Corpus(data_dir, images, features, scene_of, index)


@pytest.fixture(scope="session")
def read_h(data_dir: Path) -> Callable[[str], np.ndarray]:
    def read(rel: str) -> np.ndarray:
        return np.loadtxt(data_dir / rel).reshape(3, 3)

    return read
