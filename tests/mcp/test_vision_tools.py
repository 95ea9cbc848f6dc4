"""The vision tools through an MCP client: with a VLM (a local chat-completions stand-in) and without one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from avmine.server.mcp.app import create_server
from avmine.vlm.backends import VlmConfig

from ..vlm.stand_in import chat_completions
from .programs import LEFT_TURNS, LOG, TURNING_TRACK

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    with anyio.fail_after(180):
        return await client.call_tool(tool, arguments)


def script(question: str) -> str:
    return "Yes." if "police car" in question or "partly hidden" in question else "No."


def police_program(kind: str) -> str:
    """Left-turning vehicles that the VLM says are ``kind``, called from inside the sandboxed program."""
    return (
        "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "turners = turning(vehicles, log_dir, direction='left')\n"
        f"found = is_specific_object_type(turners, log_dir, description={kind!r})\n"
        "output_scenario(found, description, log_dir, output_dir)\n"
    )


async def test_with_a_vlm(db: Path, tmp_path: Path) -> None:
    with chat_completions(script) as stand_in:
        config = VlmConfig(backend="openai", model="scripted", url=stand_in.url)
        async with Client(create_server(db, image_dir=tmp_path, vlm_config=config)) as client:
            run = await call(client, "execute_scenario", program=LEFT_TURNS, prompt="vehicle turning left")
            run_id = run.structured_content["run_id"]
            checked = await call(client, "vlm_check", run_id=run_id, function="is_specific_object_type",
                                 value="police car", max_tracks=2)  # fmt: skip
            lines = text(checked).splitlines()
            assert lines[0] == "is_specific_object_type('police car') with scripted, 2 track(s):"
            assert all("(100%)" in line for line in lines[1:]) and len(lines) == 3
            bus = await call(client, "vlm_check", run_id=run_id, function="is_specific_object_type", value="bus",
                             max_tracks=1)  # fmt: skip
            assert "kept 0 of" in text(bus)
            verdict = await call(client, "verify_scene", run_id=run_id, log_id=LOG)
            image, note = verdict.content
            assert image.type == "image" and note.text.startswith("no (confidence")
            assert "unknown VLM function 'is_red'" in text(
                await call(client, "vlm_check", run_id=run_id, function="is_red")
            )
            # the same question from inside a program: brokered from the sandbox to the server's VLM
            police = await call(client, "execute_scenario", program=police_program("police car"), prompt="police")
            assert police.structured_content["status"] == "ok", police.structured_content["diagnostics"]
            found = {k: v for k, v in police.structured_content["per_log"][0].items() if k != "seconds"}
            assert found == {k: v for k, v in run.structured_content["per_log"][0].items() if k != "seconds"}
            buses = await call(client, "execute_scenario", program=police_program("bus"), prompt="bus")
            assert buses.structured_content["per_log"][0]["referred_tracks"] == 0
            # configured as the docs of a server without one say: the docs and instructions no longer warn
            assert "A VLM is configured" in (client.instructions or "")
            assert not await unavailable_in_docs(client)
        assert any("police car" in s["body"]["messages"][0]["content"][-1]["text"] for s in stand_in.seen)


UNAVAILABLE = "UNAVAILABLE on this server (a program calling one fails): No VLM backend is configured."


async def unavailable_in_docs(client: Client) -> list[str]:
    """Where the docs (list_functions, get_function_docs, the docs resource) mark the vision functions unavailable."""
    listed = text(await call(client, "list_functions"))
    vision = text(await call(client, "get_function_docs", names=["is_specific_object_type", "turning"]))
    resource = (await client.read_resource("avmine://docs/functions")).contents[0]
    documents = {"list_functions": listed, "get_function_docs": vision, "resource": getattr(resource, "text", "")}
    return [name for name, document in documents.items() if UNAVAILABLE in document]


async def test_without_a_vlm_the_docs_and_instructions_say_the_vision_functions_are_unavailable(db: Path) -> None:
    async with Client(create_server(db, vlm_config=VlmConfig())) as client:
        assert await unavailable_in_docs(client) == ["list_functions", "get_function_docs", "resource"]
        listed = text(await call(client, "list_functions")).split("\n\n")
        (vision,) = [group for group in listed if group.startswith("vision")]
        assert UNAVAILABLE in vision.splitlines()[1] and "is_specific_object_type" in vision
        assert not [group for group in listed if UNAVAILABLE in group and not group.startswith("vision")]
        turning = text(await call(client, "get_function_docs", names=["turning"]))
        assert "UNAVAILABLE" not in turning  # only the vision functions
        instructions = client.instructions or ""
        assert "No VLM is usable on this server" in instructions and "AVMINE_VLM_BACKEND=transformers" in instructions
        assert len(instructions) < 2048


async def test_without_a_vlm_images_come_back_with_how_to_configure(db: Path, tmp_path: Path) -> None:
    async with Client(create_server(db, image_dir=tmp_path, vlm_config=VlmConfig())) as client:
        views = await call(client, "render_camera_views", log_id=LOG, track_uuid=TURNING_TRACK)
        image, note = views.content
        assert image.type == "image" and image.mime_type == "image/png"
        saved = Path(note.text.split("saved to ")[1].split(";")[0])
        assert saved.parent == tmp_path and saved.read_bytes()[:4] == b"\x89PNG"
        run = await call(client, "execute_scenario", program=LEFT_TURNS, prompt="vehicle turning left")
        checked = await call(client, "vlm_check", run_id=run.structured_content["run_id"], function="has_attribute",
                             value="open door")  # fmt: skip
        assert not checked.is_error and checked.content[0].type == "image"
        assert "AVMINE_VLM_BACKEND=transformers" in text(checked)
        scene = await call(client, "verify_scene", run_id=run.structured_content["run_id"], log_id=LOG)
        assert scene.content[0].type == "image" and "No VLM backend is configured" in text(scene)
        bad = await call(client, "render_camera_views", log_id=LOG, track_uuid=TURNING_TRACK, cameras=["front"])
        assert bad.is_error and "unknown camera(s) front" in text(bad)
        missing = await call(client, "render_camera_views", log_id=LOG, track_uuid="nope")
        assert missing.is_error and "is not in log" in text(missing)
        inside = await call(client, "execute_scenario", program=police_program("police car"), prompt="police")
        assert inside.structured_content["status"] == "failed"
        shown = await call(client, "get_run", run_id=inside.structured_content["run_id"])
        error = shown.structured_content["logs"][0]["error"]
        assert "VlmCallError: is_specific_object_type: No VLM backend is configured" in error
        assert "AVMINE_VLM_BACKEND=transformers" in error
