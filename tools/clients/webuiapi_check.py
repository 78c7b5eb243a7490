#!/usr/bin/env python3
"""Drives a running A1111-compatible server with the webuiapi Python client (mix1009/sdwebuiapi), the way its
users call it, and prints one line per call: PASS, FAIL (with why) or EXPECTED (the call needs a model mend does
not have, and the server answers it with A1111's error shape). Exit status: the number of FAILs.

    python3 tools/clients/webuiapi_check.py WEBUIAPI_DIR [--port 7860] IMAGE.png MASK.png

WEBUIAPI_DIR is a checkout of https://github.com/mix1009/sdwebuiapi (its webuiapi/ package is imported from
there; nothing of it is in mend). Needs python3-requests and python3-pil. Meant for a server started with a
(tiny) checkpoint: mend serve --model M.safetensors --vocab V --port 7860."""
import sys

args = [a for a in sys.argv[1:]]
port = 7860
if "--port" in args:
    i = args.index("--port")
    port = int(args[i + 1])
    del args[i:i + 2]
if len(args) != 3:
    sys.exit(__doc__)
sys.path.insert(0, args[0])
import webuiapi  # noqa: E402
from PIL import Image  # noqa: E402

image = Image.open(args[1]).convert("RGB")
mask = Image.open(args[2]).convert("L")
api = webuiapi.WebUIApi(host="127.0.0.1", port=port, sampler="Euler a", steps=2)
small = dict(width=64, height=64, steps=2, seed=7)
results = []


def check(name, fn, want=lambda r: True, expected_error=False):
    try:
        r = fn()
        ok = want(r)
        results.append(("PASS" if ok and not expected_error else "FAIL", name, "" if ok else f"unexpected: {r!r:.200}"))
    except Exception as e:  # webuiapi raises on an error answer
        results.append(("EXPECTED" if expected_error else "FAIL", name, f"{type(e).__name__}: {e}"[:200]))


def images(n, size=(64, 64)):
    return lambda r: len(r.images) == n and all(im.size == size for im in r.images)


check("txt2img", lambda: api.txt2img(prompt="a cat", **small), images(1))
check("txt2img negative prompt", lambda: api.txt2img(prompt="a cat", negative_prompt="dog", **small), images(1))
check("txt2img batch_size 2", lambda: api.txt2img(prompt="a cat", batch_size=2, **small), images(2))
check("txt2img n_iter 2", lambda: api.txt2img(prompt="a cat", n_iter=2, **small), images(2))
check("txt2img variation seed", lambda: api.txt2img(prompt="a cat", subseed=3, subseed_strength=0.3, **small),
      images(1))
check("txt2img tiling", lambda: api.txt2img(prompt="a cat", tiling=True, **small), images(1))
check("txt2img hires fix", lambda: api.txt2img(prompt="a cat", enable_hr=True, hr_scale=2, hr_upscaler="Latent",
                                               hr_second_pass_steps=1, denoising_strength=0.5, **small),
      lambda r: len(r.images) == 1 and r.images[0].size == (128, 128))
check("txt2img hires fix Lanczos", lambda: api.txt2img(prompt="a cat", enable_hr=True, hr_upscaler="Lanczos",
                                                       hr_resize_x=96, hr_resize_y=96, **small),
      lambda r: r.images[0].size == (96, 96))
check("txt2img DPM++ 2M Karras", lambda: api.txt2img(prompt="a cat", sampler_name="DPM++ 2M", scheduler="Karras",
                                                      **small), images(1))
for sampler in ["DDIM", "PLMS", "UniPC", "LCM", "Heun", "DPM++ SDE"]:
    # UniPC needs as many steps as its order (3), in A1111 too
    check(f"txt2img sampler {sampler}", lambda s=sampler: api.txt2img(prompt="a cat", sampler_name=s,
                                                                      **dict(small, steps=3)), images(1))
check("txt2img override_settings", lambda: api.txt2img(prompt="a cat", override_settings={"CLIP_stop_at_last_layers": 2},
                                                       **small), lambda r: "Clip skip: 2" in r.info["infotexts"][0])
check("txt2img styles (none defined: refused)", lambda: api.txt2img(prompt="a cat", styles=["no such"], **small),
      expected_error=True)
check("txt2img info fields", lambda: api.txt2img(prompt="a cat", cfg_scale=6.5, **small),
      lambda r: r.info["cfg_scale"] == 6.5 and r.info["seed"] == 7 and r.parameters["steps"] == 2)
check("txt2img restore_faces (no face model)", lambda: api.txt2img(prompt="a cat", restore_faces=True, **small),
      expected_error=True)
check("img2img", lambda: api.img2img(images=[image], prompt="oil", denoising_strength=0.5, **small), images(1))
# webuiapi's default is "Only masked": the result is pasted back into the init image, of its size
check("img2img inpaint", lambda: api.img2img(images=[image], mask_image=mask, prompt="a hat", **small),
      images(1, image.size))
check("img2img inpaint whole picture, inverted",
      lambda: api.img2img(images=[image], mask_image=mask, inpaint_full_res=False, inpainting_mask_invert=1,
                          prompt="a hat", **small), images(1))
check("img2img inpaint latent noise", lambda: api.img2img(images=[image], mask_image=mask, inpainting_fill=2,
                                                          prompt="a hat", **small), images(1, image.size))
check("img2img two init images", lambda: api.img2img(images=[image, image], batch_size=2, prompt="x", **small),
      images(2))
check("img2img resize_mode 1", lambda: api.img2img(images=[image], resize_mode=1, prompt="x", **small), images(1))
check("img2img include_init_images", lambda: api.img2img(images=[image], include_init_images=True, prompt="x",
                                                         **small), images(1))
check("extra_single_image Lanczos", lambda: api.extra_single_image(image, upscaler_1="Lanczos", upscaling_resize=2),
      lambda r: r.image.size == (image.width * 2, image.height * 2))
check("extra_batch_images", lambda: api.extra_batch_images([image, image], upscaler_1="Nearest", upscaling_resize=2),
      lambda r: len(r.images) == 2)
check("png_info", lambda: api.png_info(api.txt2img(prompt="pngcat", **small).image),
      lambda r: "pngcat" in r.info)
check("interrogate (no model)", lambda: api.interrogate(image), expected_error=True)
check("interrupt", lambda: api.interrupt())
check("skip", lambda: api.skip())
check("get_options", lambda: api.get_options(), lambda r: "sd_model_checkpoint" in r)
check("set_options", lambda: api.set_options({"send_seed": True}))
check("get_cmd_flags", lambda: api.get_cmd_flags(), lambda r: isinstance(r, dict))
check("get_progress", lambda: api.get_progress(), lambda r: "progress" in r and "state" in r)
check("get_samplers", lambda: api.get_samplers(), lambda r: any(s["name"] == "Euler a" for s in r))
check("get_schedulers", lambda: api.get_schedulers(), lambda r: any(s["label"] == "Karras" for s in r))
check("get_sd_vae", lambda: api.get_sd_vae(), lambda r: isinstance(r, list))
check("get_upscalers", lambda: api.get_upscalers(), lambda r: any(u["name"] == "Lanczos" for u in r))
check("get_latent_upscale_modes", lambda: api.get_latent_upscale_modes(), lambda r: any(m["name"] == "Latent" for m in r))
check("get_loras", lambda: api.get_loras(), lambda r: isinstance(r, list))
check("get_sd_models", lambda: api.get_sd_models(), lambda r: len(r) >= 1 and "title" in r[0])
check("get_hypernetworks", lambda: api.get_hypernetworks(), lambda r: r == [])
check("get_face_restorers", lambda: api.get_face_restorers(), lambda r: isinstance(r, list))
check("get_realesrgan_models", lambda: api.get_realesrgan_models(), lambda r: isinstance(r, list))
check("get_prompt_styles", lambda: api.get_prompt_styles(), lambda r: isinstance(r, list))
check("refresh_checkpoints", lambda: api.refresh_checkpoints())
check("get_scripts", lambda: api.get_scripts(), lambda r: "txt2img" in r and "img2img" in r)
check("get_embeddings", lambda: api.get_embeddings(), lambda r: "loaded" in r and "skipped" in r)
check("get_memory", lambda: api.get_memory(), lambda r: "ram" in r)
check("util_get_model_names", lambda: api.util_get_model_names(), lambda r: len(r) >= 1)
check("util_get_sampler_names", lambda: api.util_get_sampler_names(), lambda r: "Euler a" in r)
check("util_get_scheduler_names", lambda: api.util_get_scheduler_names(), lambda r: "karras" in r)
check("util_get_current_model", lambda: api.util_get_current_model(), lambda r: bool(r))
check("util_set_model", lambda: api.util_set_model(api.util_get_model_names()[0]))
check("util_wait_for_ready", lambda: api.util_wait_for_ready(check_interval=0.2), lambda r: r is None)

for status, name, why in results:
    print(f"{status:8} {name}{'  (' + why + ')' if why else ''}")
fails = sum(1 for s, _, _ in results if s == "FAIL")
print(f"webuiapi: {sum(1 for s, _, _ in results if s == 'PASS')} passed, "
      f"{sum(1 for s, _, _ in results if s == 'EXPECTED')} expected errors, {fails} failed of {len(results)} calls")
sys.exit(min(fails, 100))
