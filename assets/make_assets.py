#!/usr/bin/env python
"""Generate the example media in assets/ (CC0, made for this project).

Everything is drawn procedurally with Pillow/numpy and encoded with PyAV
(H.264, yuv420p, +faststart), so the files are license-clean and
reproducible:

    python assets/make_assets.py

Output is deterministic as far as x264 allows (single-threaded encoding,
bit-exact muxing, no timestamps in metadata).
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent
FPS = 24
CRF = 29


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def font(size: int) -> ImageFont.ImageFont:
    """PIL's built-in font, scaled if this Pillow supports it (>= 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow: fixed-size bitmap font
        return ImageFont.load_default()


def vertical_gradient(w: int, h: int, top, bottom) -> Image.Image:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    top = np.asarray(top, np.float32)
    bottom = np.asarray(bottom, np.float32)
    rows = (top * (1 - t) + bottom * t).round().astype(np.uint8)
    return Image.fromarray(np.broadcast_to(rows, (h, w, 3)).copy(), "RGB")


def write_video(path: Path, frames, size, fps: int = FPS, crf: int = CRF) -> None:
    """Encode an iterable of RGB PIL images as browser-friendly H.264 MP4."""
    w, h = size
    assert w % 2 == 0 and h % 2 == 0, "yuv420p needs even dimensions"
    container = av.open(
        str(path),
        mode="w",
        format="mp4",
        options={"movflags": "+faststart", "fflags": "+bitexact"},
    )
    stream = container.add_stream(
        "libx264",
        rate=fps,
        options={
            "crf": str(crf),
            "preset": "slow",
            "tune": "animation",
            "profile": "high",
            "x264-params": "threads=1:lookahead-threads=1",
        },
    )
    stream.width, stream.height = w, h
    stream.pix_fmt = "yuv420p"
    stream.thread_count = 1
    for img in frames:
        assert img.size == (w, h), img.size
        frame = av.VideoFrame.from_ndarray(np.asarray(img.convert("RGB")), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


# --------------------------------------------------------------------------
# 1. bouncing ball
# --------------------------------------------------------------------------
def bouncing_ball_frames(w=480, h=270, seconds=6.0):
    ground_y = int(h * 0.78)
    bg = vertical_gradient(w, h, (70, 130, 220), (190, 225, 255))
    d = ImageDraw.Draw(bg)
    # sun with rays
    sx, sy, sr = w - 70, 55, 28
    for k in range(12):
        a = k * math.pi / 6
        d.line(
            [
                (sx + (sr + 6) * math.cos(a), sy + (sr + 6) * math.sin(a)),
                (sx + (sr + 18) * math.cos(a), sy + (sr + 18) * math.sin(a)),
            ],
            fill=(255, 210, 40),
            width=3,
        )
    d.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=(255, 225, 60))
    # a couple of clouds
    for cx, cy in [(90, 50), (250, 80)]:
        for dx, dy, r in [(0, 0, 18), (20, -8, 22), (42, 0, 18), (20, 6, 18)]:
            d.ellipse([cx + dx - r, cy + dy - r, cx + dx + r, cy + dy + r], fill=(250, 250, 255))
    # ground with a darker strip
    d.rectangle([0, ground_y, w, h], fill=(60, 170, 70))
    d.rectangle([0, ground_y, w, ground_y + 4], fill=(40, 130, 50))

    r = 20
    n = int(round(seconds * FPS))
    bounce_period = 1.0  # seconds per bounce
    max_height = ground_y - r - 40  # apex height above ground
    for i in range(n):
        t = i / FPS
        # horizontal: go right then come back (ping-pong), full width once each way
        u = (t / seconds) * 2.0
        frac = u if u <= 1.0 else 2.0 - u
        x = r + 10 + frac * (w - 2 * r - 20)
        # vertical: parabolic bounce |sin|-like using a parabola per period
        p = (t % bounce_period) / bounce_period
        height = 4 * p * (1 - p) * (max_height - 30)
        # squash a little on contact
        squash = 1.0 - 0.25 * max(0.0, 1 - height / 12.0)
        rx, ry = r / math.sqrt(squash), r * squash
        y = ground_y - ry - height
        img = bg.copy()
        dd = ImageDraw.Draw(img)
        # shadow shrinks with height
        s = 1.0 - 0.6 * height / max_height
        dd.ellipse([x - r * s, ground_y + 3, x + r * s, ground_y + 9], fill=(35, 110, 45))
        dd.ellipse([x - rx, y - ry, x + rx, y + ry], fill=(220, 30, 30), outline=(120, 10, 10), width=2)
        dd.ellipse([x - rx * 0.5, y - ry * 0.6, x - rx * 0.1, y - ry * 0.2], fill=(255, 140, 140))
        yield img


# --------------------------------------------------------------------------
# 2. traffic light
# --------------------------------------------------------------------------
def traffic_light_frames(w=480, h=270, seconds=6.0):
    n = int(round(seconds * FPS))
    road_top = int(h * 0.70)
    bg = vertical_gradient(w, h, (120, 170, 230), (200, 225, 245))
    d = ImageDraw.Draw(bg)
    d.rectangle([0, road_top - 10, w, road_top], fill=(170, 170, 170))  # sidewalk
    d.rectangle([0, road_top, w, h], fill=(60, 60, 65))  # road
    lane_y = road_top + (h - road_top) // 2
    for x in range(0, w, 40):
        d.rectangle([x, lane_y - 2, x + 22, lane_y + 2], fill=(240, 240, 240))
    # pole + housing
    px = 110
    d.rectangle([px - 5, 95, px + 5, road_top - 5], fill=(50, 50, 50))
    hx0, hy0, hx1, hy1 = px - 28, 12, px + 28, 172
    d.rounded_rectangle([hx0, hy0, hx1, hy1], radius=10, fill=(30, 30, 30), outline=(10, 10, 10), width=2)
    lamp_r = 19
    lamp_y = {"red": 40, "yellow": 92, "green": 144}
    on_color = {"red": (255, 40, 40), "yellow": (255, 210, 0), "green": (40, 230, 70)}
    off_color = {"red": (80, 25, 25), "yellow": (80, 70, 20), "green": (20, 70, 30)}

    # schedule (seconds): red 0-1.5, green 1.5-4.0, yellow 4.0-5.0, red 5.0-6.0
    def state(t):
        if t < 1.5:
            return "red"
        if t < 4.0:
            return "green"
        if t < 5.0:
            return "yellow"
        return "red"

    def draw_car(dd, x, y):
        # body, cabin, windows, wheels (car faces right)
        dd.rounded_rectangle([x, y - 22, x + 90, y], radius=6, fill=(30, 90, 200), outline=(15, 45, 100), width=2)
        dd.polygon([(x + 20, y - 22), (x + 32, y - 40), (x + 62, y - 40), (x + 76, y - 22)], fill=(30, 90, 200))
        dd.polygon([(x + 26, y - 23), (x + 35, y - 36), (x + 46, y - 36), (x + 46, y - 23)], fill=(190, 225, 250))
        dd.polygon([(x + 50, y - 23), (x + 50, y - 36), (x + 60, y - 36), (x + 70, y - 23)], fill=(190, 225, 250))
        dd.ellipse([x + 84, y - 18, x + 91, y - 11], fill=(255, 240, 150))  # headlight
        for wx in (x + 20, x + 70):
            dd.ellipse([wx - 11, y - 11, wx + 11, y + 11], fill=(20, 20, 20))
            dd.ellipse([wx - 4, y - 4, wx + 4, y + 4], fill=(160, 160, 160))

    car_y = lane_y + 22
    green_start, green_end = 1.5, 4.0
    for i in range(n):
        t = i / FPS
        s = state(t)
        img = bg.copy()
        dd = ImageDraw.Draw(img)
        for name, cy in lamp_y.items():
            col = on_color[name] if name == s else off_color[name]
            if name == s:  # glow
                dd.ellipse(
                    [px - lamp_r - 5, cy - lamp_r - 5, px + lamp_r + 5, cy + lamp_r + 5],
                    fill=tuple(min(255, c // 2 + 60) for c in col),
                )
            dd.ellipse([px - lamp_r, cy - lamp_r, px + lamp_r, cy + lamp_r], fill=col)
        # car: waits left of the light while red, drives across while green
        if t < green_start:
            cx = 10  # waiting at the left edge
        elif t < green_end:
            f = (t - green_start) / (green_end - green_start)
            cx = 10 + f * (w + 20)
        else:
            cx = None
        if cx is not None and cx < w:
            draw_car(dd, int(round(cx)), car_y)
        yield img


# --------------------------------------------------------------------------
# 3. clock
# --------------------------------------------------------------------------
def clock_frames(w=360, h=360, seconds=5.0):
    n = int(round(seconds * FPS))
    cx, cy, R = w // 2, 165, 130
    bg = Image.new("RGB", (w, h), (235, 232, 222))
    d = ImageDraw.Draw(bg)
    d.ellipse([cx - R - 8, cy - R - 8, cx + R + 8, cy + R + 8], fill=(90, 60, 40))
    d.ellipse([cx - R, cy - R, cx + R, cy + R], fill=(255, 255, 250))
    for k in range(60):
        a = k * math.pi / 30
        inner = R - (16 if k % 5 == 0 else 7)
        d.line(
            [
                (cx + inner * math.sin(a), cy - inner * math.cos(a)),
                (cx + (R - 3) * math.sin(a), cy - (R - 3) * math.cos(a)),
            ],
            fill=(30, 30, 30),
            width=4 if k % 5 == 0 else 1,
        )
    num_font = font(18)
    for hr in range(1, 13):
        a = hr * math.pi / 6
        rr = R - 32
        d.text((cx + rr * math.sin(a), cy - rr * math.cos(a)), str(hr), fill=(30, 30, 30), font=num_font, anchor="mm")
    counter_font = font(30)

    def hand(dd, angle, length, width, color):
        dd.line(
            [
                (cx - 12 * math.sin(angle), cy + 12 * math.cos(angle)),
                (cx + length * math.sin(angle), cy - length * math.cos(angle)),
            ],
            fill=color,
            width=width,
        )

    for i in range(n):
        t = i / FPS
        # fast clock: one minute-hand revolution every 2.5 s (the hour hand
        # advances 1/12 of that); the second hand spins once per second.
        minutes = t / 2.5 * 60.0
        hours = 10 + minutes / 60.0
        img = bg.copy()
        dd = ImageDraw.Draw(img)
        hand(dd, hours * math.pi / 6, R * 0.5, 8, (20, 20, 20))
        hand(dd, minutes * math.pi / 30, R * 0.78, 5, (20, 20, 20))
        hand(dd, t * 2 * math.pi, R * 0.88, 2, (210, 30, 30))
        dd.ellipse([cx - 6, cy - 6, cx + 6, cy + 6], fill=(210, 30, 30))
        counter = min(5, int(t))  # 0..4 during playback, 5 on the last frames
        if i == n - 1:
            counter = 5
        dd.rounded_rectangle([cx - 34, h - 52, cx + 34, h - 10], radius=6, fill=(20, 20, 20))
        dd.text((cx, h - 31), str(counter), fill=(60, 255, 90), font=counter_font, anchor="mm")
        yield img


# --------------------------------------------------------------------------
# 4. still scene
# --------------------------------------------------------------------------
def shapes_png(w=640, h=400) -> Image.Image:
    img = vertical_gradient(w, h, (80, 150, 235), (185, 220, 250))
    d = ImageDraw.Draw(img)
    ground_y = 300
    # sun
    d.ellipse([510, 30, 600, 120], fill=(255, 220, 40), outline=(240, 180, 20), width=3)
    # clouds
    for cx, cy in [(130, 70), (330, 55)]:
        for dx, dy, r in [(0, 0, 22), (26, -10, 28), (54, 0, 22), (26, 8, 22)]:
            d.ellipse([cx + dx - r, cy + dy - r, cx + dx + r, cy + dy + r], fill=(255, 255, 255))
    # ground
    d.rectangle([0, ground_y, w, h], fill=(70, 175, 70))
    # house: walls, red roof, door, windows, chimney
    hx0, hx1, hy_top = 180, 380, 190
    d.rectangle([330, 120, 355, 170], fill=(120, 60, 50))  # chimney (behind roof)
    d.rectangle([hx0, hy_top, hx1, ground_y + 5], fill=(240, 220, 180), outline=(120, 100, 70), width=2)
    d.polygon(
        [(hx0 - 20, hy_top), ((hx0 + hx1) // 2, 100), (hx1 + 20, hy_top)], fill=(200, 30, 30), outline=(120, 15, 15)
    )
    d.rectangle([260, 230, 300, ground_y + 5], fill=(130, 80, 40), outline=(80, 50, 20), width=2)
    d.ellipse([289, 265, 295, 271], fill=(240, 200, 60))
    for wx in (200, 320):
        d.rectangle([wx, 215, wx + 44, 259], fill=(170, 215, 250), outline=(255, 255, 255), width=4)
        d.line([(wx + 22, 215), (wx + 22, 259)], fill=(255, 255, 255), width=3)
        d.line([(wx, 237), (wx + 44, 237)], fill=(255, 255, 255), width=3)
    # path
    d.polygon([(262, ground_y + 5), (298, ground_y + 5), (320, h), (240, h)], fill=(200, 180, 140))
    # tree
    d.rectangle([480, 220, 505, ground_y + 10], fill=(110, 70, 35))
    for dx, dy, r in [(0, -20, 48), (-34, 10, 36), (34, 10, 36), (0, 20, 38)]:
        cx, cy = 492 + dx, 190 + dy
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(35, 130, 45))
    for ax, ay in [(470, 175), (515, 200), (492, 150)]:
        d.ellipse([ax - 6, ay - 6, ax + 6, ay + 6], fill=(220, 40, 40))  # apples
    return img


# --------------------------------------------------------------------------
# 5. bar chart
# --------------------------------------------------------------------------
def chart_png(w=640, h=400) -> Image.Image:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    values = [120, 180, 150, 210, 90]
    colors = [(66, 133, 244), (52, 168, 83), (251, 188, 5), (234, 67, 53), (150, 80, 200)]
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    title_f, label_f, tick_f = font(26), font(18), font(14)
    d.text((w // 2, 28), "Visitors per day", fill=(20, 20, 20), font=title_f, anchor="mm")
    left, right, top, bottom = 80, w - 30, 60, h - 50
    vmax = 250
    # grid + y ticks
    for v in range(0, vmax + 1, 50):
        y = bottom - (bottom - top) * v / vmax
        d.line([(left, y), (right, y)], fill=(225, 225, 225), width=1)
        d.text((left - 8, y), str(v), fill=(80, 80, 80), font=tick_f, anchor="rm")
    d.line([(left, top), (left, bottom)], fill=(40, 40, 40), width=2)
    d.line([(left, bottom), (right, bottom)], fill=(40, 40, 40), width=2)
    slot = (right - left) / len(days)
    bw = slot * 0.6
    for k, (day, v, c) in enumerate(zip(days, values, colors)):
        x0 = left + slot * k + (slot - bw) / 2
        y0 = bottom - (bottom - top) * v / vmax
        d.rectangle([x0, y0, x0 + bw, bottom - 1], fill=c)
        d.text((x0 + bw / 2, y0 - 12), str(v), fill=(30, 30, 30), font=tick_f, anchor="mm")
        d.text((x0 + bw / 2, bottom + 18), day, fill=(30, 30, 30), font=label_f, anchor="mm")
    # y-axis label (rotated)
    lab = Image.new("RGBA", (120, 24), (255, 255, 255, 0))
    ImageDraw.Draw(lab).text((60, 12), "Visitors", fill=(60, 60, 60), font=label_f, anchor="mm")
    lab = lab.rotate(90, expand=True)
    img.paste(lab, (8, (top + bottom) // 2 - lab.height // 2), lab)
    return img


# --------------------------------------------------------------------------
def main() -> None:
    write_video(OUT / "bouncing_ball.mp4", bouncing_ball_frames(), (480, 270))
    write_video(OUT / "traffic_light.mp4", traffic_light_frames(), (480, 270))
    write_video(OUT / "clock.mp4", clock_frames(), (360, 360))
    shapes_png().save(OUT / "shapes.png", optimize=True)
    chart_png().save(OUT / "chart.png", optimize=True)
    for name in ["bouncing_ball.mp4", "traffic_light.mp4", "clock.mp4", "shapes.png", "chart.png"]:
        p = OUT / name
        print(f"{p.relative_to(OUT.parent)}  {p.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
