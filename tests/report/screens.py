"""Element screenshots of the report and how much of each is drawn: the share of pixels that differ from the page's
white background, counted by the browser itself (the PNG decoded into a canvas)."""

from __future__ import annotations

import base64

INK_SHARE_JS = """async (data) => {
    const image = new Image();
    image.src = 'data:image/png;base64,' + data;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    let ink = 0, colour = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        const [red, green, blue] = [pixels[i], pixels[i + 1], pixels[i + 2]];
        if (255 - red > 48 || 255 - green > 48 || 255 - blue > 48) ink += 1;
        if (Math.max(red, green, blue) - Math.min(red, green, blue) > 48) colour += 1;
    }
    const size = image.width * image.height;
    return {width: image.width, height: image.height, ink: ink / size, colour: colour / size};
}"""


def ink_share(scratch_page, png: bytes) -> dict:
    """{width, height, ink, colour}: ink is the share of pixels more than 48 levels darker than white in some channel
    (grid lines and tints are not ink); colour the share of saturated pixels (marks; text and axes are grey)."""
    return scratch_page.evaluate(INK_SHARE_JS, base64.b64encode(png).decode("ascii"))
