"""The scene, lights and camera model on their own: rooms, image-based light, the develop step."""

from __future__ import annotations

import numpy as np
import pytest

from painctl.appearance import camera_model as cm
from painctl.appearance import lighting as lt
from painctl.appearance import scene as sc
from painctl.seeding import rng_for


def sphere(n: int = 400) -> np.ndarray:
    v = np.random.default_rng(0).standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_uniform_environment_lights_every_normal_alike():
    env = np.ones(lt.ENV_SHAPE + (3,))
    e = lt.sh_basis(sphere()) @ lt.irradiance_sh(env)
    # A white sky all round gives a diffuse surface its albedo (factor 1) whichever way it faces.
    assert np.allclose(e, 1.0, atol=0.02)


def test_environment_light_comes_from_the_window_side_and_the_shader_fit_follows_it():
    for g in range(4):
        room = sc.draw_room(rng_for(0, sc.STREAM, g))
        light = lt.draw_lighting(rng_for(0, lt.STREAM, g), room)
        side = room.window_side
        assert np.sign(light.key.direction[0]) == side and np.sign(light.fill.direction[0]) == -side
        toward, away = np.array([[side, 0.0, 0.3]]), np.array([[-side, 0.0, 0.3]])
        toward /= np.linalg.norm(toward)
        away /= np.linalg.norm(away)
        assert light.irradiance(toward).sum() > light.irradiance(away).sum()
        # The four shader lights give the same diffuse light as key + fill + SH, within 15% of the mean.
        from painctl.renderer import irradiance

        n = sphere()
        exact, fitted = light.irradiance(n), irradiance(n, light.shader_lights())
        assert len(light.shader_lights()) <= 4
        assert np.abs(exact - fitted).mean() < 0.15 * exact.mean()


def test_room_slides_with_the_view_and_is_a_function_of_its_draw():
    room = sc.draw_room(rng_for(3, sc.STREAM, 1))
    front, turned = sc.paint_room_views(room, (224, 224), [0.0, 30.0])
    assert front.shape == (224, 224, 3) and front.dtype == np.float32 and 0 <= front.min() and front.max() <= 1
    # 30 degrees of yaw slides the wall by a quarter of the frame (56 px): the same wall, moved
    # (each view resampled on its own, so alike to within the resampling, not bit for bit).
    assert np.abs(turned[:, :-56] - front[:, 56:]).mean() < 0.01
    assert not np.array_equal(turned, front)
    # A view does not depend on which other views were asked for.
    assert np.array_equal(sc.paint_room(room, (224, 224), 30.0), turned)
    assert np.array_equal(sc.paint_room_views(room, (224, 224), [30.0, -30.0])[0], turned)
    single = sc.paint_room(room, (224, 224))
    assert np.array_equal(single, sc.paint_room(sc.draw_room(rng_for(3, sc.STREAM, 1)), (224, 224)))
    assert not np.array_equal(single, sc.paint_room(sc.draw_room(rng_for(3, sc.STREAM, 2)), (224, 224)))


def test_the_person_casts_a_soft_shadow_away_from_the_key_light():
    room = sc.draw_room(rng_for(0, sc.STREAM, 0))
    wall = np.full((100, 100, 3), 0.8, np.float32)
    alpha = np.zeros((100, 100), np.float32)
    alpha[30:70, 40:60] = 1.0
    shaded = sc.cast_shadow(wall, alpha, np.array([-0.6, 0.5, 0.6]), room)  # key from the upper left
    dark = 0.8 - shaded[..., 0]
    # To the right of the person, not the left (by a share of the room's drawn shadow strength).
    assert dark[50:75, 62:80].mean() > dark[50:75, 20:38].mean() + 0.05 * room.shadow_strength
    assert dark.max() <= room.shadow_strength * 0.8 + 1e-6


def test_develop_changes_the_image_by_the_drawn_effects_only():
    rng = np.random.default_rng(1)
    scene = np.clip(rng.random((64, 64, 3)).astype(np.float32) * 0.3 + 0.35, 0, 1)
    scene[20:44, 20:44] = (0.7, 0.5, 0.4)
    assert np.array_equal(cm.develop(scene, cm.CameraModel(), rng), (scene * 255 + 0.5).astype(np.uint8))
    model = cm.draw_camera_model(rng_for(0, cm.STREAM, 0, 0), "photo", 4.0, 64)
    a = cm.develop(scene, model, rng_for(0, cm.STREAM, 0, 0, 1))
    b = cm.develop(scene, model, rng_for(0, cm.STREAM, 0, 0, 1))
    assert np.array_equal(a, b)  # the noise is the draw's, so a pair shares it
    plain = (scene * 255 + 0.5).astype(np.float64)
    diff = np.abs(a.astype(np.float64) - plain)
    assert diff.mean() > 1.0
    # Effects, not a different picture: the patch is still where it was, against the surround.
    assert a[24:40, 24:40].astype(float).mean() - a[:12, :12].astype(float).mean() == pytest.approx(plain[24:40, 24:40].mean() - plain[:12, :12].mean(), abs=25)
    brighter = cm.develop(scene, cm.CameraModel(exposure_ev=0.5), rng)
    assert brighter.mean() > plain.mean() + 10
    warm = cm.develop(scene, cm.CameraModel(white_balance=(1.08, 1.0, 0.92)), rng).astype(float)
    assert warm[..., 0].mean() - warm[..., 2].mean() > plain[..., 0].mean() - plain[..., 2].mean() + 5


def test_camera_draws_cover_portrait_lenses_and_keep_jitter_off_when_asked():
    models = [cm.draw_camera_model(rng_for(0, cm.STREAM, g, 0), "photo", 4.0, 224) for g in range(50)]
    focal = np.array([m.focal_mm for m in models])
    assert 50 <= focal.min() and focal.max() <= 105 and focal.std() > 10
    assert all(m.fov == pytest.approx(cm.fov_of_focal(m.focal_mm)) for m in models)
    rolls = np.array([m.pose_jitter[2] for m in models])
    assert 1.0 < rolls.std() < 4.0 and np.abs(rolls).max() <= 6.0 + 1e-9
    still = cm.draw_camera_model(rng_for(0, cm.STREAM, 0, 0), "photo", 0.0, 224)
    assert still.pose_jitter == (0.0, 0.0, 0.0) and still.focal_mm == models[0].focal_mm
    assert cm.draw_camera_model(rng_for(0, cm.STREAM, 0, 0), "none", 4.0, 224).is_identity
