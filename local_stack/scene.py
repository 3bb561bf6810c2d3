"""Deterministic storybook scenes for the local image server, drawn with Pillow.

A prompt becomes a simple children's illustration: a sky, the sun or the moon and stars,
hills, props picked by keywords of the slide's `Scene:` line, one animal character standing
on the ground, and a caption band with the scene's text. The same prompt (and the same
reference image) always gives byte-identical PNG bytes.

What makes a picture recognisable from slide to slide are its *traits*: the palette and the
character. Without a reference they come from a hash of the whole prompt, so slides rendered
on their own look different. Every PNG carries its traits as JSON in a text chunk, and a
render with a reference adopts the reference's traits (or, for an image without the chunk,
traits read from its pixels), which makes the character consistency the real service offers
visible in local runs.

A transparent render (`transparent=True`) draws only the character and its shadow on a fully
transparent canvas: every backdrop pixel (sky, ground, props, weather, caption) has alpha 0.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

TRAITS_CHUNK = "storyimages-traits"
TRAITS_VERSION = 1
# The JPEG / WebP encoder quality when the caller does not choose one.
DEFAULT_LOSSY_QUALITY = 90

RGB = tuple[int, int, int]

CHARACTER_KINDS = ("fox", "bear", "cat", "owl", "rabbit", "mouse")
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "fox": ("fox", "foxes", "vixen"),
    "bear": ("bear", "bears", "teddy"),
    "cat": ("cat", "cats", "kitten", "kittens", "kitty"),
    "owl": ("owl", "owls", "owlet"),
    "rabbit": ("rabbit", "rabbits", "bunny", "bunnies", "hare", "hares"),
    "mouse": ("mouse", "mice"),
}

# What a scene's text must mention (whole words, any case) for each element to be drawn.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "night": (
        "night",
        "nighttime",
        "midnight",
        "moon",
        "moonlit",
        "moonlight",
        "star",
        "stars",
        "starry",
        "starlit",
    ),
    "rain": ("rain", "rainy", "raining", "drizzle", "storm", "stormy", "thunder"),
    "storm": ("storm", "stormy", "thunder", "thunderstorm", "lightning"),
    "snow": ("snow", "snowy", "snowing", "snowflake", "snowflakes", "winter", "frost"),
    "mountain": ("mountain", "mountains", "peak", "peaks", "alps"),
    "sea": ("sea", "seas", "ocean", "beach", "shore", "seaside", "coast", "waves"),
    "river": ("river", "rivers", "stream", "brook"),
    "lake": ("lake", "lakes", "pond", "ponds"),
    "boat": ("boat", "boats", "ship", "sailboat", "sail", "raft", "canoe"),
    "house": ("house", "houses", "home", "cottage", "cabin", "hut", "village", "town"),
    "village": ("village", "town"),
    "tree": ("tree", "trees", "forest", "forests", "woods", "woodland", "orchard", "pine", "pines"),
    "forest": ("forest", "forests", "woods", "woodland"),
    "flower": ("flower", "flowers", "garden", "gardens", "meadow", "blossom", "blossoms", "bloom", "tulips"),
    "lantern": ("lantern", "lanterns", "lamp", "light", "lights", "glow", "glowing", "candle", "torch"),
    "firefly": ("firefly", "fireflies"),
}

# Curated so that any combination the hash picks still looks like a friendly picture book.
_SKIES: tuple[tuple[RGB, RGB], ...] = (
    ((122, 186, 232), (214, 238, 248)),
    ((104, 160, 222), (250, 222, 188)),
    ((150, 204, 240), (255, 242, 212)),
    ((108, 184, 214), (204, 236, 226)),
    ((170, 190, 238), (252, 214, 222)),
    ((96, 156, 212), (236, 242, 204)),
)
_GROUNDS: tuple[RGB, ...] = (
    (118, 178, 88),
    (96, 158, 82),
    (148, 190, 98),
    (176, 164, 96),
    (108, 170, 122),
    (138, 176, 80),
)
_BODIES: tuple[RGB, ...] = (
    (226, 124, 56),
    (196, 98, 48),
    (152, 110, 78),
    (118, 84, 60),
    (168, 170, 182),
    (236, 214, 178),
    (112, 124, 156),
    (212, 162, 92),
    (92, 92, 104),
    (232, 178, 148),
)
_ACCENTS: tuple[RGB, ...] = (
    (214, 52, 62),
    (36, 150, 160),
    (246, 196, 42),
    (132, 82, 182),
    (58, 142, 82),
    (42, 92, 172),
    (238, 118, 160),
)
_FLOWER_COLOURS: tuple[RGB, ...] = (
    (238, 96, 120),
    (250, 210, 70),
    (178, 120, 226),
    (255, 255, 255),
    (248, 150, 70),
)
_HOUSE_WALLS: tuple[RGB, ...] = ((246, 232, 200), (214, 226, 240), (244, 212, 204), (232, 238, 206))
_ROOFS: tuple[RGB, ...] = ((184, 66, 56), (128, 84, 64), (70, 96, 140), (150, 70, 96))

_INK: RGB = (52, 40, 44)
_WHITE: RGB = (255, 255, 255)
_CAPTION_PAPER: RGB = (250, 244, 228)
_NIGHT_SKY: RGB = (22, 30, 72)
_NIGHT_HORIZON: RGB = (70, 66, 128)
_STORM_GREY: RGB = (112, 118, 134)
_LANTERN_LIGHT: RGB = (255, 214, 110)


# ---------------------------------------------------------------------------------------------
# Traits


@dataclass(frozen=True)
class Palette:
    sky: RGB
    horizon: RGB
    ground: RGB


@dataclass(frozen=True)
class Character:
    kind: str
    body: RGB
    accent: RGB


@dataclass(frozen=True)
class Traits:
    palette: Palette
    character: Character

    def to_json(self) -> str:
        document = {
            "version": TRAITS_VERSION,
            "palette": {
                "sky": _hex(self.palette.sky),
                "horizon": _hex(self.palette.horizon),
                "ground": _hex(self.palette.ground),
            },
            "character": {
                "kind": self.character.kind,
                "body": _hex(self.character.body),
                "accent": _hex(self.character.accent),
            },
        }
        # Sorted and compact: the chunk is part of the PNG bytes, which must be reproducible.
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Traits:
        """Raises ValueError for anything that is not a traits document this module wrote."""
        try:
            document = json.loads(text)
            palette, character = document["palette"], document["character"]
            kind = character["kind"]
            if kind not in CHARACTER_KINDS:
                raise ValueError(f"unknown character kind {kind!r}")
            return cls(
                palette=Palette(
                    sky=_parse_hex(palette["sky"]),
                    horizon=_parse_hex(palette["horizon"]),
                    ground=_parse_hex(palette["ground"]),
                ),
                character=Character(
                    kind=kind, body=_parse_hex(character["body"]), accent=_parse_hex(character["accent"])
                ),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a traits document: {exc}") from exc


def traits_for_prompt(prompt: str) -> Traits:
    """Traits of a render without a reference: a character named in the prompt, colours by hash."""
    digest = _digest(prompt)
    sky, horizon = _SKIES[digest[0] % len(_SKIES)]
    body = _BODIES[digest[2] % len(_BODIES)]
    return Traits(
        palette=Palette(sky=sky, horizon=horizon, ground=_GROUNDS[digest[1] % len(_GROUNDS)]),
        character=Character(
            kind=character_kind(prompt) or CHARACTER_KINDS[digest[3] % len(CHARACTER_KINDS)],
            body=body,
            accent=_accent_for(body, digest[4]),
        ),
    )


def character_kind(text: str) -> str | None:
    """The animal the text mentions first, if any."""
    first: tuple[int, str] | None = None
    for kind, words in _KIND_WORDS.items():
        found = _words_pattern(words).search(text)
        if found and (first is None or found.start() < first[0]):
            first = (found.start(), kind)
    return first[1] if first else None


def read_traits(image_bytes: bytes) -> Traits | None:
    """The traits chunk of an image this module rendered, or None."""
    with Image.open(io.BytesIO(image_bytes)) as image:
        text = getattr(image, "text", None) or image.info
        raw = text.get(TRAITS_CHUNK)
    if not isinstance(raw, str):
        return None
    try:
        return Traits.from_json(raw)
    except ValueError:
        return None


def traits_from_references(references: Sequence[bytes], prompt: str) -> Traits:
    """The traits a render with these reference images adopts.

    The first reference that carries a traits chunk wins; otherwise they are read from the
    first reference's pixels. Raises ValueError when `references` is empty and PIL errors for
    bytes that are not an image.
    """
    if not references:
        raise ValueError("no reference image")
    for reference in references:
        traits = read_traits(reference)
        if traits is not None:
            return traits
    return traits_from_pixels(references[0], prompt)


def traits_from_pixels(image_bytes: bytes, prompt: str = "") -> Traits:
    """Traits read off a picture without a traits chunk, such as a photo.

    The sky is the dominant colour of the top band, the ground that of the lower middle (above
    where a caption would be), and the character's colours are the most saturated colours that
    are neither. The kind is the one the prompt names, else one picked by the image's hash.
    """
    with Image.open(io.BytesIO(image_bytes)) as opened:
        small = opened.convert("RGB").resize((48, 48), Image.Resampling.BOX)
    sky = _dominant(small.crop((0, 0, 48, 12)))
    ground = _dominant(small.crop((0, 31, 48, 43)))
    candidates = sorted(
        (
            (_saturation(colour) * (count / (48 * 48)) ** 0.5, colour)
            for count, colour in _colour_counts(small.quantize(colors=8, method=Image.Quantize.MEDIANCUT))
            if _distance(colour, sky) > 60 and _distance(colour, ground) > 60
        ),
        reverse=True,
    )
    body = candidates[0][1] if candidates else _mix(ground, _INK, 0.4)
    others = [colour for _, colour in candidates[1:] if _distance(colour, body) > 80]
    accent = others[0] if others else _accent_for(body, _digest_bytes(image_bytes)[4])
    kind = character_kind(prompt) or CHARACTER_KINDS[_digest_bytes(image_bytes)[3] % len(CHARACTER_KINDS)]
    return Traits(
        palette=Palette(sky=sky, horizon=_mix(sky, _WHITE, 0.55), ground=ground),
        character=Character(kind=kind, body=body, accent=accent),
    )


# ---------------------------------------------------------------------------------------------
# Captions


def caption_for(prompt: str) -> str:
    """The text of the prompt's `Scene:` line, else its last non-empty line."""
    scene = _scene_line(prompt)
    if scene is not None:
        return scene
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _scene_line(prompt: str) -> str | None:
    for line in prompt.splitlines():
        if line.strip().lower().startswith("scene:"):
            return line.strip()[len("scene:") :].strip()
    return None


def fit_text(text: str, max_width: float, measure: Callable[[str], float]) -> str:
    """`text`, cut at a word boundary and ended with an ellipsis when it is wider than `max_width`."""
    if measure(text) <= max_width:
        return text
    words = text.split()
    while len(words) > 1:
        words.pop()
        candidate = " ".join(words).rstrip(",;:.-") + "…"
        if measure(candidate) <= max_width:
            return candidate
    # A single word wider than the band: cut it by characters.
    for end in range(len(text), 0, -1):
        candidate = text[:end] + "…"
        if measure(candidate) <= max_width:
            return candidate
    return ""


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class RenderedScene:
    image: Image.Image
    traits: Traits

    @property
    def transparent(self) -> bool:
        return self.image.mode == "RGBA"

    def encode(self, output_format: str = "png", *, quality: int = DEFAULT_LOSSY_QUALITY) -> bytes:
        """PNG (with the traits chunk), JPEG or WebP bytes, the same for the same scene.

        `quality` (0-100) is the JPEG / WebP encoder's quality: lower gives smaller, blurrier
        files. PNG is lossless and ignores it. A transparent scene cannot be a JPEG (ValueError).
        """
        if not 0 <= quality <= 100:
            raise ValueError(f"quality must be from 0 to 100, not {quality}")
        buffer = io.BytesIO()
        if output_format == "png":
            info = PngInfo()
            info.add_text(TRAITS_CHUNK, self.traits.to_json())
            # Level 1 keeps encoding a 1024x1024 scene to a few milliseconds; size hardly matters locally.
            self.image.save(buffer, "PNG", pnginfo=info, compress_level=1)
        elif output_format == "jpeg":
            if self.transparent:
                raise ValueError("JPEG has no alpha channel: encode a transparent scene as PNG or WebP")
            self.image.save(buffer, "JPEG", quality=quality)
        elif output_format == "webp":
            self.image.save(buffer, "WEBP", quality=quality)
        else:
            raise ValueError(f"unsupported output format {output_format!r}")
        return buffer.getvalue()


def render_scene(
    prompt: str,
    size: tuple[int, int] = (1024, 1024),
    *,
    references: Sequence[bytes] = (),
    variant: int = 0,
    transparent: bool = False,
) -> RenderedScene:
    """Draw the scene for `prompt`. `variant` gives the n-th of several images for one request:
    the same traits, a different arrangement. `transparent` gives an RGBA image of the character
    alone, everything else fully transparent."""
    width, height = size
    traits = traits_from_references(references, prompt) if references else traits_for_prompt(prompt)
    seed_text = prompt if variant == 0 else f"{prompt}\x00variant {variant}"
    image = _Painter(width, height, traits, prompt, _digest(seed_text), transparent=transparent).paint()
    return RenderedScene(image=image, traits=traits)


def render_png(
    prompt: str, size: tuple[int, int] = (1024, 1024), *, references: Sequence[bytes] = (), variant: int = 0
) -> bytes:
    return render_scene(prompt, size, references=references, variant=variant).encode("png")


@dataclass(frozen=True)
class _Mood:
    night: bool
    rain: bool
    storm: bool
    snow: bool

    @classmethod
    def of(cls, text: str) -> _Mood:
        return cls(**{name: _mentions(text, *_KEYWORDS[name]) for name in ("night", "rain", "storm", "snow")})


class _Painter:
    """One render: the canvas, the layout and a seeded RNG, drawn back to front."""

    def __init__(
        self, width: int, height: int, traits: Traits, prompt: str, seed: bytes, *, transparent: bool = False
    ) -> None:
        self.transparent = transparent
        self.width = width
        self.height = height
        self.traits = traits
        self.caption = caption_for(prompt)
        # The slide's own scene decides the props; the rest of the prompt is shared by every slide.
        self.text = _scene_line(prompt) or prompt
        self.rng = random.Random(int.from_bytes(seed, "big"))
        self.band = max(14, round(height * 0.085)) if height >= 120 else 0
        self.scene_height = height - self.band
        self.unit = min(width, self.scene_height) / 1000
        self.horizon = round(self.scene_height * 0.58)
        self.feet = round(self.scene_height * (0.86 + 0.03 * self.rng.random()))
        self.mood = _Mood.of(self.text)
        self.image = (
            Image.new("RGBA", (width, height), (0, 0, 0, 0)) if transparent else Image.new("RGB", (width, height))
        )
        # RGBA mode blends translucent fills (glows, rain) onto the RGB canvas.
        self.draw = ImageDraw.Draw(self.image, "RGBA")
        self.character_x = width * (0.22 + 0.56 * self.rng.random())
        self.far_side = 1 if self.character_x < width / 2 else -1
        # Facing flips the tail and the scarf's loose end, so slides are not all mirror copies.
        self.facing = 1 if self.rng.random() < 0.5 else -1
        # Where a boat floats: set by whichever water gets drawn.
        self._water_x = self.far_x(0.3, 0.7)
        self.sky, self.horizon_colour, self.ground = self._scene_colours()

    def _scene_colours(self) -> tuple[RGB, RGB, RGB]:
        palette = self.traits.palette
        sky, horizon, ground = palette.sky, palette.horizon, palette.ground
        if self.mood.night:
            sky, horizon = _mix(sky, _NIGHT_SKY, 0.82), _mix(horizon, _NIGHT_HORIZON, 0.72)
            ground = _mix(ground, (24, 36, 58), 0.5)
        elif self.mood.rain:
            sky, horizon = _mix(sky, _STORM_GREY, 0.6), _mix(horizon, _STORM_GREY, 0.45)
            ground = _mix(ground, _STORM_GREY, 0.2)
        if self.mood.snow:
            ground = _mix(ground, (246, 249, 255), 0.78)
        return sky, horizon, ground

    def has(self, element: str) -> bool:
        return _mentions(self.text, *_KEYWORDS[element])

    def far_x(self, low: float, high: float) -> float:
        """An x on the side of the picture the character is not standing on (fractions of that side)."""
        fraction = low + (high - low) * self.rng.random()
        if self.far_side > 0:
            return self.character_x + (self.width - self.character_x) * fraction
        return self.character_x * (1 - fraction)

    def paint(self) -> Image.Image:
        if self.transparent:
            # The character on its own, as a sticker: no backdrop, props, weather or caption.
            _Figure(self.draw, self.character_x, self.feet, self.unit * 3.4, self.facing).paint(self.traits.character)
            return self.image
        self._sky()
        self._celestial()
        self._clouds()
        if self.has("mountain"):
            self._mountains()
        sea = self.has("sea")
        if not sea:
            self._hills()
        else:
            self._sea()
        self._ground(sea)
        water_y = self.horizon + 0.05 * self.scene_height if sea else None
        if self.has("river"):
            water_y = self._river()
        elif self.has("lake") or (water_y is None and self.has("boat")):
            water_y = self._lake()
        if self.has("house"):
            self._houses(many=self.has("village"))
        if self.has("tree"):
            self._trees(forest=self.has("forest"))
        if water_y is not None and self.has("boat"):
            self._boat(water_y)
        if self.has("flower"):
            self._flowers()
        if self.has("lantern"):
            self._lantern()
        figure = _Figure(self.draw, self.character_x, self.feet, self.unit * 3.4, self.facing)
        figure.paint(self.traits.character)
        if self.has("firefly"):
            self._fireflies()
        if self.mood.rain:
            self._rain()
        if self.mood.snow:
            self._snowfall()
        self._caption()
        return self.image

    # -- backdrop ---------------------------------------------------------------------------

    def _sky(self) -> None:
        mask = Image.linear_gradient("L").resize((self.width, max(1, self.horizon + 2)))
        top = Image.new("RGB", mask.size, self.sky)
        bottom = Image.new("RGB", mask.size, self.horizon_colour)
        self.image.paste(Image.composite(bottom, top, mask), (0, 0))

    def _celestial(self) -> None:
        u = self.unit
        x = self.width * (0.12 + 0.76 * self.rng.random())
        y = self.scene_height * (0.1 + 0.1 * self.rng.random())
        if self.mood.night:
            for _ in range(int(70 * self.width * self.horizon / 1e6) + 12):
                sx, sy = self.rng.uniform(0, self.width), self.rng.uniform(0, self.horizon * 0.9)
                if abs(sx - x) < 90 * u and abs(sy - y) < 90 * u:
                    continue
                if self.rng.random() < 0.22:
                    _sparkle(self.draw, sx, sy, self.rng.uniform(5, 10) * u, (255, 246, 200))
                else:
                    r = self.rng.uniform(1.2, 2.8) * u
                    self.draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 250, 225))
            for scale, alpha in ((2.2, 22), (1.6, 34)):
                r = 55 * u * scale
                self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 248, 214, alpha))
            r = 55 * u
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 244, 214))
            for cx, cy, cr in ((-18, -12, 12), (16, 10, 9), (-4, 22, 7)):
                self.draw.ellipse(
                    (x + (cx - cr) * u, y + (cy - cr) * u, x + (cx + cr) * u, y + (cy + cr) * u),
                    fill=(232, 226, 196),
                )
        elif not self.mood.rain:
            for scale, alpha in ((1.9, 40), (1.45, 70)):
                r = 62 * u * scale
                self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 236, 150, alpha))
            r = 62 * u
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 214, 82))

    def _clouds(self) -> None:
        if self.mood.night and not self.mood.rain:
            return
        count = 5 if self.mood.rain else 2 + self.rng.randrange(2)
        colour: RGB = (138, 142, 158) if self.mood.rain else (255, 255, 255)
        for i in range(count):
            x = self.width * (i + 0.2 + 0.6 * self.rng.random()) / count
            y = self.scene_height * (0.08 + 0.18 * self.rng.random())
            scale = self.unit * (1.5 if self.mood.rain else 1.0) * self.rng.uniform(0.8, 1.2)
            for dx, dy, rx, ry in ((-50, 8, 42, 26), (0, -10, 52, 38), (48, 6, 40, 28), (0, 14, 90, 24)):
                self.draw.ellipse(
                    (
                        x + (dx - rx) * scale,
                        y + (dy - ry) * scale,
                        x + (dx + rx) * scale,
                        y + (dy + ry) * scale,
                    ),
                    fill=colour,
                )
        if self.mood.storm:
            x, y, u = self.width * (0.3 + 0.4 * self.rng.random()), self.scene_height * 0.2, self.unit
            bolt = [(0, 0), (-30, 90), (-6, 90), (-36, 190), (40, 70), (12, 70), (36, 0)]
            self.draw.polygon([(x + px * u, y + py * u) for px, py in bolt], fill=(255, 226, 92))

    def _mountains(self) -> None:
        base = self.horizon + 4
        rock = _mix(_mix(self.traits.palette.ground, (110, 118, 150), 0.7), self.horizon_colour, 0.25)
        if self.mood.night:
            rock = _mix(rock, _NIGHT_SKY, 0.55)
        for i in range(3):
            peak_x = self.width * (0.15 + 0.35 * i + 0.12 * self.rng.random())
            peak_h = self.scene_height * (0.24 + 0.12 * self.rng.random())
            half = peak_h * 1.1
            shade = _mix(rock, _WHITE, 0.12 * i)
            self.draw.polygon([(peak_x - half, base), (peak_x, base - peak_h), (peak_x + half, base)], fill=shade)
            cap = peak_h * 0.28
            cap_half = cap * half / peak_h
            snow = [
                (peak_x - cap_half, base - peak_h + cap),
                (peak_x, base - peak_h),
                (peak_x + cap_half, base - peak_h + cap),
                (peak_x + cap_half * 0.3, base - peak_h + cap * 0.8),
                (peak_x - cap_half * 0.2, base - peak_h + cap),
            ]
            self.draw.polygon(snow, fill=(246, 248, 252))

    def _hills(self) -> None:
        far = _mix(self.ground, self.horizon_colour, 0.35)
        for i in range(3):
            cx = self.width * (i / 2 + self.rng.uniform(-0.15, 0.15))
            rx = self.width * self.rng.uniform(0.3, 0.45)
            ry = self.scene_height * self.rng.uniform(0.1, 0.16)
            self.draw.ellipse((cx - rx, self.horizon - ry, cx + rx, self.horizon + ry), fill=far)

    def _sea(self) -> None:
        top, bottom = self.horizon, self.horizon + 0.14 * self.scene_height
        water = _mix((64, 144, 204), self.sky, 0.25)
        self.draw.rectangle((0, top, self.width, bottom), fill=water)
        crest = _mix(water, _WHITE, 0.45)
        u = self.unit
        for _ in range(14):
            x = self.rng.uniform(0, self.width)
            y = self.rng.uniform(top + 10 * u, bottom - 10 * u)
            w = self.rng.uniform(20, 40) * u
            self.draw.arc((x - w, y - 6 * u, x, y + 6 * u), 200, 340, fill=crest, width=max(1, round(3 * u)))
            self.draw.arc((x, y - 6 * u, x + w, y + 6 * u), 200, 340, fill=crest, width=max(1, round(3 * u)))

    def _ground(self, sea: bool) -> None:
        top = self.horizon + (0.14 * self.scene_height if sea else 0)
        ground = _mix(self.ground, (236, 214, 160), 0.5) if sea and not self.mood.snow else self.ground
        self.draw.rectangle((0, top, self.width, self.scene_height), fill=ground)
        near = _mix(ground, _INK, 0.08)
        for i in range(2):
            cx = self.width * (0.25 + 0.5 * i + self.rng.uniform(-0.1, 0.1))
            rx = self.width * self.rng.uniform(0.35, 0.5)
            ry = self.scene_height * 0.07
            self.draw.ellipse((cx - rx, top, cx + rx, top + 2 * ry), fill=near if i else ground)
        self.draw.rectangle((0, top + 0.07 * self.scene_height, self.width, self.scene_height), fill=ground)
        tuft = _mix(ground, _INK, 0.18)
        u = self.unit
        for _ in range(28):
            x = self.rng.uniform(0, self.width)
            y = self.rng.uniform(top + 0.1 * self.scene_height, self.scene_height - 6 * u)
            for dx in (-5, 0, 5):
                self.draw.line((x, y, x + dx * 1.6 * u, y - 12 * u), fill=tuft, width=max(1, round(2.5 * u)))

    def _lake(self) -> float:
        cx = self.far_x(0.25, 0.6)
        cy = self.horizon + 0.1 * self.scene_height
        rx, ry = 0.22 * self.width, 0.05 * self.scene_height
        shore = _mix(self.ground, (236, 214, 160), 0.45)
        self.draw.ellipse(
            (
                cx - rx - 8 * self.unit,
                cy - ry - 6 * self.unit,
                cx + rx + 8 * self.unit,
                cy + ry + 6 * self.unit,
            ),
            fill=shore,
        )
        self.draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=self._water())
        shine = _mix(self._water(), _WHITE, 0.4)
        self.draw.line((cx - rx * 0.5, cy, cx - rx * 0.1, cy), fill=shine, width=max(1, round(4 * self.unit)))
        self.draw.line(
            (cx + rx * 0.05, cy + ry * 0.45, cx + rx * 0.4, cy + ry * 0.45),
            fill=shine,
            width=max(1, round(4 * self.unit)),
        )
        self._water_x = cx
        return cy

    def _river(self) -> float:
        start = self.far_x(0.2, 0.5)
        points_left, points_right = [], []
        steps = 8
        for i in range(steps + 1):
            t = i / steps
            y = self.horizon + t * (self.scene_height - self.horizon)
            x = start + self.far_side * t * 0.25 * self.width + 40 * self.unit * (1 - t) * ((-1) ** i)
            half = (6 + 110 * t) * self.unit
            points_left.append((x - half, y))
            points_right.append((x + half, y))
        self.draw.polygon(points_left + points_right[::-1], fill=self._water())
        shine = _mix(self._water(), _WHITE, 0.4)
        for i in range(3, steps, 2):
            (lx, y), (rx, _) = points_left[i], points_right[i]
            self.draw.line(
                (lx + (rx - lx) * 0.3, y, lx + (rx - lx) * 0.6, y),
                fill=shine,
                width=max(1, round(3 * self.unit)),
            )
        mid_left, mid_right = points_left[3], points_right[3]
        self._water_x = (mid_left[0] + mid_right[0]) / 2
        return mid_left[1]

    def _water(self) -> RGB:
        water = _mix((70, 150, 210), self.sky, 0.3)
        return _mix(water, _NIGHT_SKY, 0.5) if self.mood.night else water

    # -- props ------------------------------------------------------------------------------

    def _houses(self, *, many: bool) -> None:
        count = 3 if many else 1
        for i in range(count):
            scale = self.unit * (0.75 + 0.4 * self.rng.random()) * (0.8 if many else 1.2)
            x = self.far_x(0.25 + 0.25 * i, 0.4 + 0.25 * i) if many else self.far_x(0.3, 0.6)
            base = self.horizon + self.scene_height * (0.06 + 0.03 * i)
            self._house(x, base, scale)

    def _house(self, x: float, base: float, s: float) -> None:
        wall = self.rng.choice(_HOUSE_WALLS)
        roof = self.rng.choice(_ROOFS)
        if self.mood.night:
            wall = _mix(wall, _NIGHT_SKY, 0.35)
        w, h = 120 * s, 90 * s
        self.draw.rectangle(
            (x - w / 2, base - h, x + w / 2, base),
            fill=wall,
            outline=_mix(wall, _INK, 0.35),
            width=max(1, round(2 * s)),
        )
        self.draw.rectangle(
            (x + w * 0.18, base - h - 55 * s, x + w * 0.32, base - h - 5 * s), fill=_mix(roof, _INK, 0.2)
        )
        self.draw.polygon(
            [(x - w / 2 - 14 * s, base - h), (x, base - h - 70 * s), (x + w / 2 + 14 * s, base - h)],
            fill=roof,
        )
        self.draw.rectangle((x - 14 * s, base - 46 * s, x + 14 * s, base), fill=_mix(roof, _INK, 0.3))
        window = (255, 214, 110) if self.mood.night else (186, 220, 240)
        for wx in (x - w * 0.32, x + w * 0.2):
            self.draw.rectangle(
                (wx, base - 70 * s, wx + 24 * s, base - 46 * s),
                fill=window,
                outline=_mix(wall, _INK, 0.4),
                width=max(1, round(2 * s)),
            )
        if self.mood.night:
            r = 60 * s
            self.draw.ellipse((x - r, base - 58 * s - r, x + r, base - 58 * s + r), fill=(*_LANTERN_LIGHT, 28))

    def _trees(self, *, forest: bool) -> None:
        leaf = _mix(self.traits.palette.ground, (34, 100, 56), 0.55)
        if self.mood.night:
            leaf = _mix(leaf, _NIGHT_SKY, 0.45)
        if self.mood.snow:
            leaf = _mix(leaf, _WHITE, 0.25)
        trees: list[tuple[float, float, float]] = []
        if forest:
            for i in range(9):
                x = self.width * (i + self.rng.random()) / 9
                trees.append(
                    (
                        x,
                        self.horizon + self.scene_height * self.rng.uniform(0.0, 0.04),
                        self.unit * self.rng.uniform(0.55, 0.8),
                    )
                )
        trees.append((self.far_x(0.35, 0.75), self.horizon + self.scene_height * 0.12, self.unit * 1.3))
        trees.append((self.far_x(0.1, 0.3), self.horizon + self.scene_height * 0.03, self.unit * 0.85))
        for x, base, s in sorted(trees, key=lambda tree: tree[1]):
            if self.rng.random() < 0.4:
                self._pine(x, base, s, leaf)
            else:
                self._round_tree(x, base, s, leaf)

    def _round_tree(self, x: float, base: float, s: float, leaf: RGB) -> None:
        trunk = (120, 82, 56) if not self.mood.night else (70, 56, 60)
        self.draw.rectangle((x - 12 * s, base - 110 * s, x + 12 * s, base), fill=trunk)
        for dx, dy, r, shade in (
            (-38, -130, 48, 0.0),
            (38, -135, 50, 0.06),
            (0, -178, 60, 0.12),
            (0, -125, 52, 0.0),
        ):
            colour = _mix(leaf, _WHITE, shade)
            self.draw.ellipse(
                (x + (dx - r) * s, base + (dy - r) * s, x + (dx + r) * s, base + (dy + r) * s), fill=colour
            )
        if self.mood.snow:
            self.draw.ellipse((x - 40 * s, base - 236 * s, x + 40 * s, base - 206 * s), fill=(248, 250, 255))

    def _pine(self, x: float, base: float, s: float, leaf: RGB) -> None:
        trunk = (110, 76, 52) if not self.mood.night else (66, 52, 58)
        self.draw.rectangle((x - 10 * s, base - 40 * s, x + 10 * s, base), fill=trunk)
        for i, (half, top, bottom) in enumerate(((70, -150, -30), (56, -205, -95), (40, -250, -150))):
            colour = _mix(leaf, _INK, 0.1 - 0.05 * i)
            self.draw.polygon(
                [(x - half * s, base + bottom * s), (x, base + top * s), (x + half * s, base + bottom * s)],
                fill=colour,
            )
        if self.mood.snow:
            self.draw.polygon(
                [(x - 16 * s, base - 222 * s), (x, base - 250 * s), (x + 16 * s, base - 222 * s)],
                fill=(248, 250, 255),
            )

    def _boat(self, water_y: float) -> None:
        s = self.unit * 0.9
        x = self._water_x + self.rng.uniform(-40, 40) * self.unit
        y = water_y
        hull = (176, 92, 60)
        self.draw.polygon(
            [
                (x - 70 * s, y - 22 * s),
                (x + 70 * s, y - 22 * s),
                (x + 48 * s, y + 6 * s),
                (x - 48 * s, y + 6 * s),
            ],
            fill=hull,
        )
        self.draw.line((x, y - 22 * s, x, y - 150 * s), fill=(96, 70, 52), width=max(1, round(5 * s)))
        sail = _mix(self.traits.character.accent, _WHITE, 0.55)
        self.draw.polygon([(x + 4 * s, y - 146 * s), (x + 4 * s, y - 34 * s), (x + 70 * s, y - 34 * s)], fill=sail)
        self.draw.polygon([(x - 4 * s, y - 120 * s), (x - 4 * s, y - 34 * s), (x - 50 * s, y - 34 * s)], fill=_WHITE)

    def _flowers(self) -> None:
        u = self.unit
        keep_clear = 120 * u
        placed = 0
        for _ in range(60):
            if placed >= 18:
                break
            x = self.rng.uniform(10 * u, self.width - 10 * u)
            y = self.rng.uniform(self.horizon + 0.16 * self.scene_height, self.scene_height - 14 * u)
            if abs(x - self.character_x) < keep_clear and y < self.feet + 20 * u:
                continue
            placed += 1
            s = u * self.rng.uniform(0.8, 1.3)
            colour = self.rng.choice(_FLOWER_COLOURS)
            self.draw.line((x, y, x, y + 22 * s), fill=(60, 130, 60), width=max(1, round(3 * s)))
            for k in range(5):
                px = x + 9 * s * [0, 0.95, 0.59, -0.59, -0.95][k]
                py = y + 9 * s * [-1, -0.31, 0.81, 0.81, -0.31][k]
                self.draw.ellipse((px - 7 * s, py - 7 * s, px + 7 * s, py + 7 * s), fill=colour)
            self.draw.ellipse(
                (x - 5 * s, y - 5 * s, x + 5 * s, y + 5 * s),
                fill=(250, 200, 60) if colour != (250, 210, 70) else (220, 120, 50),
            )

    def _lantern(self) -> None:
        u = self.unit
        # On the side the figure faces: its tail sweeps the other way.
        x = self.character_x + self.facing * 140 * u
        base = self.feet
        glow_y = base - 60 * u
        for radius, alpha in ((200, 18), (150, 26), (105, 36), (70, 48)):
            r = radius * u * (1.25 if self.mood.night else 1.0)
            self.draw.ellipse((x - r, glow_y - r, x + r, glow_y + r), fill=(*_LANTERN_LIGHT, alpha))
        frame = (70, 60, 64)
        self.draw.arc(
            (x - 16 * u, glow_y - 66 * u, x + 16 * u, glow_y - 34 * u),
            180,
            360,
            fill=frame,
            width=max(1, round(4 * u)),
        )
        self.draw.rounded_rectangle(
            (x - 28 * u, glow_y - 50 * u, x + 28 * u, glow_y + 52 * u),
            radius=10 * u,
            fill=_LANTERN_LIGHT,
            outline=frame,
            width=max(1, round(5 * u)),
        )
        self.draw.ellipse((x - 11 * u, glow_y - 14 * u, x + 11 * u, glow_y + 22 * u), fill=(255, 246, 200))
        self.draw.rectangle((x - 34 * u, glow_y + 50 * u, x + 34 * u, glow_y + 60 * u), fill=frame)

    def _fireflies(self) -> None:
        u = self.unit
        for _ in range(14):
            x = self.rng.uniform(0, self.width)
            y = self.rng.uniform(self.horizon - 0.1 * self.scene_height, self.scene_height * 0.9)
            for r, alpha in ((14, 40), (8, 90)):
                self.draw.ellipse((x - r * u, y - r * u, x + r * u, y + r * u), fill=(*_LANTERN_LIGHT, alpha))
            self.draw.ellipse((x - 3 * u, y - 3 * u, x + 3 * u, y + 3 * u), fill=(255, 250, 200))

    def _rain(self) -> None:
        u = self.unit
        width = max(1, round(2.5 * u))
        for _ in range(int(160 * self.width * self.scene_height / 1e6) + 20):
            x = self.rng.uniform(-20, self.width)
            y = self.rng.uniform(0, self.scene_height - 40 * u)
            self.draw.line((x, y, x + 10 * u, y + 34 * u), fill=(214, 228, 246, 150), width=width)

    def _snowfall(self) -> None:
        u = self.unit
        for _ in range(int(180 * self.width * self.scene_height / 1e6) + 20):
            x = self.rng.uniform(0, self.width)
            y = self.rng.uniform(0, self.scene_height)
            r = self.rng.uniform(2, 6) * u
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 220))

    def _caption(self) -> None:
        if not self.band:
            return
        top = self.scene_height
        self.draw.rectangle((0, top, self.width, self.height), fill=_CAPTION_PAPER)
        self.draw.rectangle(
            (0, top, self.width, top + max(1, round(self.band * 0.06))), fill=self.traits.character.accent
        )
        font = _font(max(8, round(self.band * 0.42)))
        margin = self.band * 0.5
        text = fit_text(self.caption, self.width - 2 * margin, font.getlength)
        if text:
            self.draw.text((self.width / 2, top + self.band * 0.53), text, fill=_INK, font=font, anchor="mm")


class _Figure:
    """The character, drawn in a 100-unit-tall box whose origin is between its feet (y grows upwards)."""

    def __init__(self, draw: ImageDraw.ImageDraw, x: float, feet: float, scale: float, facing: int) -> None:
        self.draw = draw
        self.x = x
        self.feet = feet
        self.s = scale
        self.facing = facing

    def point(self, x: float, y: float) -> tuple[float, float]:
        return (self.x + x * self.s * self.facing, self.feet - y * self.s)

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        (ax, ay), (bx, by) = self.point(x0, y0), self.point(x1, y1)
        return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))

    def ellipse(self, x0: float, y0: float, x1: float, y1: float, fill: RGB, outline: RGB | None = None) -> None:
        width = max(1, round(1.6 * self.s)) if outline else 0
        self.draw.ellipse(self.box(x0, y0, x1, y1), fill=fill, outline=outline, width=width)

    def circle(self, x: float, y: float, r: float, fill: RGB, outline: RGB | None = None) -> None:
        self.ellipse(x - r, y - r, x + r, y + r, fill, outline)

    def polygon(self, points: Sequence[tuple[float, float]], fill: RGB, outline: RGB | None = None) -> None:
        width = max(1, round(1.6 * self.s)) if outline else 0
        self.draw.polygon([self.point(px, py) for px, py in points], fill=fill, outline=outline, width=width)

    def line(self, points: Sequence[tuple[float, float]], fill: RGB, width: float) -> None:
        self.draw.line(
            [self.point(px, py) for px, py in points],
            fill=fill,
            width=max(1, round(width * self.s)),
            joint="curve",
        )

    def paint(self, character: Character) -> None:
        body, accent = character.body, character.accent
        line = _mix(body, _INK, 0.55)
        light = _mix(body, _WHITE, 0.6)
        dark = _mix(body, _INK, 0.25)
        # A soft shadow grounds the figure.
        self.draw.ellipse(self.box(-34, -5, 34, 5), fill=(*_INK, 70))
        if character.kind == "owl":
            self._owl(body, accent, line, light, dark)
            return
        self._tail(character.kind, body, line, light)
        self.ellipse(-20, 0, -4, 9, dark, line)
        self.ellipse(4, 0, 20, 9, dark, line)
        self.ellipse(-22, 5, 22, 55, body, line)
        self.ellipse(-13, 9, 13, 42, light)
        self.ellipse(-29, 22, -17, 44, body, line)
        self.ellipse(17, 22, 29, 44, body, line)
        self._ears(character.kind, body, line, light)
        self.circle(0, 70, 21, body, line)
        self._face(character.kind, body, line, light)
        self._scarf(accent)

    def _tail(self, kind: str, body: RGB, line: RGB, light: RGB) -> None:
        if kind == "fox":
            self.polygon([(-14, 14), (-44, 22), (-58, 44), (-50, 52), (-34, 36), (-12, 30)], body, line)
            self.polygon([(-58, 44), (-50, 52), (-47, 44), (-53, 38)], _WHITE)
        elif kind == "cat":
            self.line([(-16, 14), (-34, 18), (-42, 34), (-36, 50), (-28, 54)], line, 7)
            self.line([(-16, 14), (-34, 18), (-42, 34), (-36, 50), (-28, 54)], body, 4.5)
        elif kind == "mouse":
            self.line([(-16, 12), (-36, 10), (-48, 20), (-46, 32)], _mix(body, (236, 150, 160), 0.5), 2.2)
        elif kind == "rabbit":
            self.circle(-22, 18, 8, _WHITE, _mix(_WHITE, _INK, 0.3))
        else:
            self.circle(-20, 16, 6, body, line)
        del light

    def _ears(self, kind: str, body: RGB, line: RGB, light: RGB) -> None:
        pink: RGB = (240, 164, 174)
        if kind in ("fox", "cat"):
            tall = 104 if kind == "fox" else 98
            for side in (-1, 1):
                self.polygon([(side * 5, 84), (side * 19, 102 if kind == "cat" else tall), (side * 20, 78)], body, line)
                self.polygon(
                    [(side * 9, 84), (side * 17, 97 if kind == "cat" else tall - 5), (side * 17, 81)],
                    _INK if kind == "fox" else pink,
                )
        elif kind == "bear":
            for side in (-1, 1):
                self.circle(side * 16, 86, 8, body, line)
                self.circle(side * 16, 86, 4, light)
        elif kind == "rabbit":
            for side in (-1, 1):
                self.ellipse(side * 4, 80, side * 16, 122, body, line)
                self.ellipse(side * 7, 86, side * 13, 116, pink)
        elif kind == "mouse":
            for side in (-1, 1):
                self.circle(side * 18, 88, 12, body, line)
                self.circle(side * 18, 88, 7, pink)

    def _face(self, kind: str, body: RGB, line: RGB, light: RGB) -> None:
        if kind == "fox":
            self.ellipse(-17, 56, -1, 70, _WHITE)
            self.ellipse(1, 56, 17, 70, _WHITE)
        elif kind == "bear":
            self.ellipse(-9, 57, 9, 69, light)
        elif kind in ("cat", "mouse", "rabbit"):
            self.ellipse(-8, 59, 8, 67, light)
        for side in (-1, 1):
            self.circle(side * 8, 73, 3.4, _INK)
            self.circle(side * 8 + 1.2, 74.4, 1.1, _WHITE)
            self.circle(side * 13, 64, 3, (244, 150, 150))
        nose: RGB = (240, 140, 160) if kind in ("rabbit", "mouse") else _INK
        self.polygon([(-3.5, 66), (3.5, 66), (0, 62)], nose)
        self.line([(0, 62), (0, 59.5)], line, 0.8)
        if kind in ("cat", "mouse", "rabbit"):
            for side in (-1, 1):
                self.line([(side * 6, 63), (side * 20, 65)], line, 0.6)
                self.line([(side * 6, 62), (side * 20, 60)], line, 0.6)
        del body

    def _scarf(self, accent: RGB) -> None:
        edge = _mix(accent, _INK, 0.35)
        stripe = _mix(accent, _WHITE, 0.45)
        self.ellipse(-19, 46, 19, 56, accent, edge)
        self.polygon([(6, 50), (16, 50), (20, 28), (10, 27)], accent, edge)
        self.line([(11, 33), (19, 34)], stripe, 1.3)

    def _owl(self, body: RGB, accent: RGB, line: RGB, light: RGB, dark: RGB) -> None:
        beak: RGB = (240, 170, 60)
        for side in (-1, 1):
            self.ellipse(side * 4, 0, side * 12, 6, beak)
            self.polygon([(side * 10, 72), (side * 22, 92), (side * 22, 70)], body, line)
        self.ellipse(-26, 4, 26, 80, body, line)
        self.ellipse(-16, 8, 16, 46, light)
        for row, y in enumerate((18, 28, 38)):
            for x in range(-8 + 4 * (row % 2), 9, 8):
                self.line([(x - 3, y + 2), (x, y), (x + 3, y + 2)], dark, 0.8)
        for side in (-1, 1):
            self.ellipse(side * 20, 14, side * 32, 52, dark, line)
            self.circle(side * 10, 60, 10.5, _WHITE, line)
            self.circle(side * 10, 60, 5, _INK)
            self.circle(side * 10 + 1.8, 62, 1.6, _WHITE)
        self.polygon([(-4, 52), (4, 52), (0, 44)], beak)
        edge = _mix(accent, _INK, 0.35)
        self.ellipse(-21, 41, 21, 48, accent, edge)
        self.polygon([(8, 44), (17, 44), (20, 26), (11, 25)], accent, edge)


# ---------------------------------------------------------------------------------------------
# Helpers


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=256)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)


def _mentions(text: str, *words: str) -> bool:
    return _words_pattern(words).search(text) is not None


def _sparkle(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, colour: RGB) -> None:
    thin = r * 0.28
    draw.polygon(
        [
            (x, y - r),
            (x + thin, y - thin),
            (x + r, y),
            (x + thin, y + thin),
            (x, y + r),
            (x - thin, y + thin),
            (x - r, y),
            (x - thin, y - thin),
        ],
        fill=colour,
    )


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _digest_bytes(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _accent_for(body: RGB, pick: int) -> RGB:
    """An accent from the curated list that stands out against the body colour."""
    for offset in range(len(_ACCENTS)):
        accent = _ACCENTS[(pick + offset) % len(_ACCENTS)]
        if _distance(accent, body) > 120:
            return accent
    return _ACCENTS[pick % len(_ACCENTS)]


def _dominant(region: Image.Image) -> RGB:
    counts = _colour_counts(region.quantize(colors=4, method=Image.Quantize.MEDIANCUT))
    return max(counts)[1]


def _colour_counts(quantized: Image.Image) -> list[tuple[int, RGB]]:
    """(count, colour) of each colour of a palette ("P") image."""
    palette = quantized.getpalette() or []
    result: list[tuple[int, RGB]] = []
    for count, index in quantized.getcolors() or []:
        if isinstance(index, int):
            r, g, b = palette[3 * index : 3 * index + 3]
            result.append((count, (r, g, b)))
    return result


def _saturation(colour: RGB) -> float:
    _, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in colour))
    # Near-black and near-white colours read as grey however "saturated" HLS calls them.
    return saturation * (1 - abs(2 * lightness - 1))


def _distance(a: RGB, b: RGB) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _hex(colour: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _parse_hex(value: Any) -> RGB:
    if not isinstance(value, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"not a #rrggbb colour: {value!r}")
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
