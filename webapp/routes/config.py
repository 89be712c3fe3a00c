"""Personalities, the user's own settings, and the service's health."""

from __future__ import annotations

from fastapi import APIRouter

from core import language, personalities
from core.config import Settings
from core.errors import InvalidInputError
from core.history import UserRecord
from core.tools.clock import check_zone
from core.tts.speaking import chosen_voice
from webapp.deps import CurrentUser, StateDep
from webapp.errors import documented
from webapp.schemas import Health, LlamaHealth, PersonalityPublic, ProviderHealth, UserSettings

router = APIRouter(tags=["configuration"])


@router.get("/personalities", response_model=list[PersonalityPublic])
async def list_personalities() -> list[PersonalityPublic]:
    """The built-in personalities, plus `custom` (your own prompt, set in /settings)."""
    builtin = [
        PersonalityPublic(name=p.name, description=p.description, prompt=p.prompt)
        for p in personalities.BUILTIN.values()
    ]
    custom = PersonalityPublic(
        name=personalities.CUSTOM,
        description="Your own system prompt, set with PUT /settings (custom_prompt).",
        prompt=None,
    )
    return [*builtin, custom]


def user_settings(user: UserRecord, settings: Settings) -> UserSettings:
    return UserSettings(
        personality=user.personality or settings.default_personality,
        custom_prompt=user.custom_prompt,
        language=user.language,
        tts_provider=chosen_voice(user.tts_provider, settings),
        time_zone=user.time_zone or settings.time_zone,
    )


@router.get("/settings", response_model=UserSettings, responses=documented(401))
async def get_settings(user: CurrentUser, state: StateDep) -> UserSettings:
    """My personality, language (\"auto\" detects it on every turn) and voice."""
    return user_settings(user, state.settings)


@router.put("/settings", response_model=UserSettings, responses=documented(400, 401, 413, 422, 507))
async def put_settings(body: UserSettings, user: CurrentUser, state: StateDep) -> UserSettings:
    """Set my personality (formal, casual, humorous or custom), language (auto or pinned) and
    voice (local or gtts; left out: unchanged)."""
    personalities.validate(body.personality, body.custom_prompt)
    language.validate(body.language)
    if body.time_zone is not None:
        try:
            check_zone(body.time_zone)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
    record = await state.store.aio.update_user(
        user_id=user.id,
        personality=body.personality,
        custom_prompt=body.custom_prompt,
        language=body.language,
        tts_provider=body.tts_provider or user.tts_provider,
        time_zone=body.time_zone or user.time_zone,
    )
    return user_settings(record, state.settings)


@router.get("/health", response_model=Health)
async def health(state: StateDep) -> Health:
    """Which providers are loaded and whether each is local or cloud, and the local model's
    llama.cpp CPU backend and features; never blocks."""
    providers = state.agent.providers
    described = providers.describe()
    llama = providers.llama_runtime
    return Health(
        status="ok",
        stt=ProviderHealth(**described["stt"]),
        llm=ProviderHealth(**described["llm"]),
        llama_cpp=LlamaHealth(**llama.describe()) if llama else None,
    )
