"""`make local`: the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import threading

from local_stack.stack import LocalConfig, LocalStack


def main() -> None:
    config = LocalConfig.from_env()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with LocalStack(config) as stack:
        openai = "the real OpenAI API" if config.real_openai_key else stack.images.api_url
        print(f"storyimages local stack ready: {stack.url}  (GET {stack.url}/health)", flush=True)
        if config.web_root is not None:
            print(f"  the progress page: {stack.url}/  (pick a development user and a story)", flush=True)
        print(f"  stories seeded: {', '.join(stack.story_ids) or 'none'}", flush=True)
        print(
            f"  firestore emulator: {stack.firestore.host}  moto: {stack.aws.url}  images: {openai}",
            flush=True,
        )
        print(
            f"  Lambda logs ({stack.config.deployment.log_level}, as deployed): {stack.lambdas.logs_dir}/<name>.log",
            flush=True,
        )
        story = (stack.story_ids or ["<storyId>"])[0]
        print("  a token for demo-user (owner of the examples): TOKEN=$(make -s token UID=demo-user)", flush=True)
        print(
            f"  try: curl -s -X POST {stack.url}/api/images/generate-all-automatically "
            f'-H "Authorization: Bearer $TOKEN" -H \'Content-Type: application/json\' -d \'{{"storyId": "{story}"}}\'',
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stopping.wait()
    print("local stack stopped", flush=True)


if __name__ == "__main__":
    main()
