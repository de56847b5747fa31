"""TF1 bilinear resize, centre crop and JPEG decoding of CelebA against independent references.

References: (1) the TF1 ``ResizeBilinear`` rule written out pixel by pixel below;
(2) values produced once by TensorFlow 2.21 (``tf.compat.v1.image.resize_images``
after ``tf.image.resize_with_crop_or_pad``, and ``tf.io.decode_png`` on a JPEG) and
hard-coded here, since TensorFlow is not a dependency.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pytest

from benchmark.data import celeba
from benchmark.data.resize import centre_crop, resize_bilinear_tf1


def _reference_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """TF1 ResizeBilinear (align_corners=False, half_pixel_centers=False), one pixel at a time."""
    in_h, in_w, channels = image.shape
    out = np.zeros((height, width, channels), np.float32)
    f32 = np.float32
    for i in range(height):
        y = f32(i) * (f32(in_h) / f32(height))
        top, frac_y = int(np.floor(y)), f32(y - np.floor(y))
        bottom = min(top + 1, in_h - 1)
        for j in range(width):
            x = f32(j) * (f32(in_w) / f32(width))
            left, frac_x = int(np.floor(x)), f32(x - np.floor(x))
            right = min(left + 1, in_w - 1)
            for c in range(channels):
                tl, tr = f32(image[top, left, c]), f32(image[top, right, c])
                bl, br = f32(image[bottom, left, c]), f32(image[bottom, right, c])
                upper = tl + (tr - tl) * frac_x
                lower = bl + (br - bl) * frac_x
                out[i, j, c] = upper + (lower - upper) * frac_y
    return out


@pytest.mark.parametrize(
    ("in_h", "in_w", "out_h", "out_w"),
    [(160, 160, 64, 64), (7, 5, 3, 11), (28, 28, 41, 37), (5, 9, 5, 9), (13, 8, 4, 6)],
)
def test_resize_matches_the_pixel_rule(in_h, in_w, out_h, out_w):
    rng = np.random.default_rng(in_h * 100 + out_w)
    images = rng.integers(0, 256, (2, in_h, in_w, 3), dtype=np.uint8)
    got = resize_bilinear_tf1(images, out_h, out_w)
    assert got.dtype == np.float32 and got.shape == (2, out_h, out_w, 3)
    for n in range(2):
        np.testing.assert_array_equal(got[n], _reference_resize(images[n], out_h, out_w))


def test_identity_size_is_identity():
    images = np.random.default_rng(1).integers(0, 256, (1, 9, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_bilinear_tf1(images, 9, 7), images.astype(np.float32))


def _pattern() -> np.ndarray:
    y, x, c = np.ogrid[0:218, 0:178, 0:3]
    return ((y * 7 + x * 13 + c * 101) % 256).astype(np.uint8)


def test_celeba_crop_and_resize_match_tensorflow_values():
    image = _pattern()[None]
    crop = centre_crop(image, 160, 160)
    np.testing.assert_array_equal(crop[0], image[0, 29:189, 9:169])  # (218-160)//2, (178-160)//2
    resized = resize_bilinear_tf1(crop, 64, 64)[0]
    # TensorFlow 2.21: resize_images(resize_with_crop_or_pad(pattern, 160, 160), [64, 64])
    assert resized[0, :6, 0].tolist() == [64.0, 96.5, 129.0, 161.5, 194.0, 226.5]
    assert resized[63, 58:, 2].tolist() == [181.5, 214.0, 246.5, 23.0, 55.5, 88.0]
    assert resized[31, 31].tolist() == [78.0, 179.0, 24.0]
    assert float(resized.sum(dtype=np.float64)) == 1566400.0
    np.testing.assert_array_equal(np.mod(resized * 4, 1), 0)  # scale 2.5: multiples of 1/4


def test_prepare_rounds_to_nearest_uint8():
    prepared = celeba.prepare(_pattern()[None])
    assert prepared.dtype == np.uint8 and prepared.shape == (1, 64, 64, 3)
    # ties to even: 96.5 -> 96, 161.5 -> 162
    assert prepared[0, 0, :6, 0].tolist() == [64, 96, 129, 162, 194, 226]
    exact = resize_bilinear_tf1(centre_crop(_pattern()[None], 160, 160), 64, 64)
    assert np.abs(prepared - exact).max() <= 0.5


# A 24x16 4:2:0 JPEG (quality 90) and what TensorFlow's default decoder makes of it.
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
    "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU"
    "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAQABgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAA"
    "AAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
    "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKT"
    "lJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QA"
    "HwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh"
    "cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hp"
    "anN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk"
    "5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDgvhl8P1DBngD28IEaKyggt3J9/wAO9fUPgHSo9Nha7u5Y7W0t"
    "0Ms087hI40UZZmY8AAAkk9Ko/DH4fea32cR5WTE0bYxu4Gevtg9PWuV/bC+Lmj/CjwVB4M0+5N74l1wkXFrYyDfB"
    "aoSGEjK48vzHUR4IbK+aNtfH8XZhn+bY2hgchUm6k2puPSze7XSMLcvTlt3u/Mp8LYKpiqdHG1I04ye8ui3k0t20"
    "ruy1b0PFojd/E7xxqXi+6tVim1C53SQAKQkXCxoSAobYgVN23LdTzmiuJ0Btb8V+VZzM0FlO4ZbGI4RUBUjdjBc5"
    "VTlsjO7AHSiv3B4LM4uNKhZOMYqUeXmUZW2W1vd5W7fau7ts/R8f4g5Zl9X6plmAc6EFyxbnyaLRWjyy07Xd7bpH"
    "/9k="
)
_TF_DECODED_SHA256 = "371a5f0251c9100f2382193690b4a49c2e655603eecf86c623a01b52c71cd92f"


def test_jpeg_decoding_matches_tensorflow_default(monkeypatch):
    pytest.importorskip("simplejpeg")
    monkeypatch.setattr(celeba, "ALIGNED_SHAPE", (16, 24, 3))
    decoded = celeba.decode(_JPEG, "fixture.jpg")
    assert decoded.shape == (16, 24, 3) and decoded.dtype == np.uint8
    assert decoded[0, 0].tolist() == [5, 55, 108]  # Pillow (accurate DCT) gives [7, 54, 109]
    assert decoded[15, 23].tolist() == [105, 138, 209]
    assert int(decoded.sum()) == 145010
    assert hashlib.sha256(decoded.tobytes()).hexdigest() == _TF_DECODED_SHA256


def test_decode_rejects_truncated_and_wrong_size():
    from benchmark.errors import UserError

    with pytest.raises(UserError, match="bad.jpg: cannot decode"):
        celeba.decode(_JPEG[: len(_JPEG) // 2], "bad.jpg")
    with pytest.raises(UserError, match="small.jpg: image is 24x16, expected the aligned 178x218"):
        celeba.decode(_JPEG, "small.jpg")
