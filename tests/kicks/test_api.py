import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.api.routes import kicks


def create_app() -> FastAPI:
    """The kicks router alone (other teams' routers change independently)."""
    app = FastAPI()
    app.include_router(kicks.router)
    return app


@pytest.fixture(scope="module")
def client(predictor):
    app = create_app()
    app.dependency_overrides[kicks.current_predictor] = lambda: predictor
    with TestClient(app) as c:
        yield c


def test_predict_xy(client):
    r = client.post(
        "/kicks/predict",
        json={
            "x_m": 40,
            "y_m": 20,
            "kicker": "Rhys Talbot",
            "competition": "Northern Cup",
            "home": False,
            "score_diff": -3,
            "period": 2,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kicker_name"] == "Rhys Talbot" and body["simulated"] is True
    assert 0 < body["probability"] < 1 and 0 < body["average_probability"] < 1
    assert body["career_rate"] is not None and body["model_version"]
    assert body["fallbacks"] == []


def test_predict_polar_unknown_kicker(client):
    r = client.post("/kicks/predict", json={"distance_m": 35, "angle_deg": 15, "kicker": "Zed"})
    assert r.status_code == 200
    assert r.json()["fallbacks"] == ["unknown_kicker", "no_competition"]
    assert r.json()["probability"] == r.json()["average_probability"]


def _errors(r):
    assert r.status_code == 422, r.text
    return r.json()["detail"]


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"distance_m": "NaN", "angle_deg": 0}, "distance_m", "0 to 122.1"),
        ({"distance_m": "Infinity", "angle_deg": 0}, "distance_m", "0 to 122.1"),
        ({"distance_m": "-Infinity", "angle_deg": 0}, "distance_m", "0 to 122.1"),
        ({"x_m": -50, "y_m": 35}, "x_m", "0 to 100"),
        ({"x_m": 30, "y_m": 500}, "y_m", "0 to 70"),
        ({"x_m": "thirty", "y_m": 35}, "x_m", "0 to 100"),
        ({"x_m": 30, "y_m": 35, "score_diff": 1e9}, "score_diff", "-200 to 200"),
        ({"x_m": 30, "y_m": 35, "minute": 12.5}, "minute", "whole number"),
        ({"x_m": True, "y_m": 35}, "x_m", "0 to 100"),
    ],
)
def test_r15_bad_numbers_name_field_and_range(client, body, field, words):
    errors = _errors(client.post("/kicks/predict", json=body))
    assert any(e["loc"][-1] == field and field in e["msg"] and words in e["msg"] for e in errors)


def test_r15_json_nan_literal(client):
    r = client.post(
        "/kicks/predict",
        content='{"distance_m": NaN, "angle_deg": 5}',
        headers={"content-type": "application/json"},
    )
    assert any(e["loc"][-1] == "distance_m" for e in _errors(r))


def test_unknown_field_named(client):
    errors = _errors(client.post("/kicks/predict", json={"x_m": 30, "y_m": 35, "wind": 3}))
    assert any(e["loc"][-1] == "wind" for e in errors)


def test_position_required_and_polar_off_pitch(client):
    assert "give a position" in _errors(client.post("/kicks/predict", json={}))[0]["msg"]
    errors = _errors(client.post("/kicks/predict", json={"distance_m": 60, "angle_deg": 80}))
    assert "off the pitch" in errors[0]["msg"]
    both = {"x_m": 30, "y_m": 35, "distance_m": 30, "angle_deg": 0}
    assert "not both" in _errors(client.post("/kicks/predict", json=both))[0]["msg"]
    bad_type = {"x_m": 30, "y_m": 35, "kick_type": "drop_goal"}
    assert _errors(client.post("/kicks/predict", json=bad_type))[0]["loc"][-1] == "kick_type"


def test_r15_nan_model_output_is_json_error_not_500(nan_predictor):
    app = create_app()
    app.dependency_overrides[kicks.current_predictor] = lambda: nan_predictor
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/kicks/predict", json={"x_m": 30, "y_m": 35})
        assert r.status_code == 503
        assert r.json()["detail"]["error"] == "model_output_invalid"
        h = c.get("/kicks/heatmap.png")
        assert h.status_code == 503 and h.json()["detail"]["error"] == "model_output_invalid"


def test_heatmap_png(client):
    r = client.get("/kicks/heatmap.png", params={"kicker": "Rhys Talbot"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG") and len(r.content) > 5000
    assert client.get("/kicks/heatmap.png").status_code == 200
    assert client.get("/kicks/heatmap.png", params={"kicker": "Nobody"}).status_code == 404
