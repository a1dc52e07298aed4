"""Wire types: tolerant decoding of answers, exact encoding of requests."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest

from ghmodels_async import ResponseDecodeError, StreamAccumulator
from ghmodels_async._sansio import build_chat_body, build_embeddings_body, decode_body
from ghmodels_async.types import (
    AssistantMessage,
    CatalogModel,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    FunctionCall,
    FunctionDefinition,
    ImageURL,
    ImageURLPart,
    JSONSchema,
    NamedFunction,
    NamedToolChoice,
    ResponseFormatJSONSchema,
    StreamOptions,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)


def decode(data: bytes | str, kind: type[Any]) -> Any:
    return msgspec.json.decode(data, type=kind)


# ---------------------------------------------------------------------------
# decoding answers: tolerant
# ---------------------------------------------------------------------------

AZURE_COMPLETION = """
{
  "choices": [
    {
      "content_filter_results": {
        "hate": {"filtered": false, "severity": "safe"},
        "self_harm": {"filtered": false, "severity": "safe"}
      },
      "finish_reason": "stop",
      "index": 0,
      "logprobs": null,
      "message": {
        "annotations": [],
        "content": "Paris.",
        "refusal": null,
        "role": "assistant",
        "audio": null
      }
    }
  ],
  "created": 1727000000,
  "id": "chatcmpl-ABC",
  "model": "gpt-4o-2024-11-20",
  "object": "chat.completion",
  "prompt_filter_results": [
    {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": false}}}
  ],
  "system_fingerprint": "fp_abc",
  "usage": {
    "completion_tokens": 3,
    "completion_tokens_details": {
      "accepted_prediction_tokens": 0,
      "audio_tokens": 0,
      "reasoning_tokens": 64,
      "rejected_prediction_tokens": 1,
      "future_field": 9
    },
    "prompt_tokens": 12,
    "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 8},
    "total_tokens": 15,
    "cost": {"usd": 0.0001}
  }
}
"""


def test_completion_with_unknown_fields_decodes() -> None:
    completion = decode(AZURE_COMPLETION, ChatCompletion)
    assert completion.id == "chatcmpl-ABC"
    assert completion.object == "chat.completion"
    assert completion.created == 1727000000
    assert completion.model == "gpt-4o-2024-11-20"
    assert completion.system_fingerprint == "fp_abc"
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Paris."
    assert choice.message.refusal is None
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 3, 15)
    assert usage.prompt_tokens_details.cached_tokens == 8
    assert usage.prompt_tokens_details.audio_tokens == 0
    details = usage.completion_tokens_details
    assert details.reasoning_tokens == 64
    assert details.accepted_prediction_tokens == 0
    assert details.rejected_prediction_tokens == 1
    # a completion decoded by hand carries no HTTP facts
    assert completion.response is None


def test_completion_with_missing_optional_fields_gets_defaults() -> None:
    completion = decode(b'{"choices": [{"message": {"content": "hi"}}]}', ChatCompletion)
    assert completion.id == ""
    assert completion.model == ""
    assert completion.created == 0
    assert completion.system_fingerprint is None
    assert completion.usage is None
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.finish_reason is None
    assert choice.message.role == "assistant"
    assert choice.message.content == "hi"


def test_empty_object_decodes_to_defaults() -> None:
    completion = decode(b"{}", ChatCompletion)
    assert completion.choices == []
    assert completion.object == "chat.completion"
    assert decode(b"{}", ChatCompletionChunk).choices == []
    assert decode(b"{}", EmbeddingsResponse).data == []
    assert decode(b"{}", CatalogModel).capabilities == []


def test_null_content_and_null_optional_objects() -> None:
    completion = decode(
        b'{"id":"x","choices":[{"index":0,"finish_reason":"content_filter",'
        b'"message":{"role":"assistant","content":null}}],"usage":null,'
        b'"system_fingerprint":null}',
        ChatCompletion,
    )
    assert completion.choices[0].message.content is None
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.usage is None


def test_usage_without_details() -> None:
    usage = decode(
        b'{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}', ChatCompletion
    ).usage
    assert usage.prompt_tokens_details is None
    assert usage.completion_tokens_details is None
    assert usage.total_tokens == 3


def test_tool_calls_in_a_message() -> None:
    completion = decode(
        b"""{"choices":[{"index":0,"finish_reason":"tool_calls","message":{
        "role":"assistant","content":null,"tool_calls":[
          {"id":"call_1","type":"function","function":{"name":"get_weather",
           "arguments":"{\\"city\\": \\"Paris\\"}"}},
          {"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}
        ]}}]}""",
        ChatCompletion,
    )
    calls = completion.choices[0].message.tool_calls
    assert [c.id for c in calls] == ["call_1", "call_2"]
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert calls[1].function.arguments == "{}"


def test_wrong_type_in_an_answer_is_a_decode_error() -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(msgspec.json.Decoder(ChatCompletion), b'{"choices": "nope"}', "chat")
    assert "choices" in str(info.value)
    with pytest.raises(ResponseDecodeError) as info:
        decode_body(msgspec.json.Decoder(ChatCompletion), b"<html>502</html>", "chat")
    assert "<html>502</html>" in str(info.value)


CATALOG_ENTRY = {
    "id": "openai/gpt-4.1",
    "name": "OpenAI GPT-4.1",
    "publisher": "OpenAI",
    "registry": "azure-openai",
    "summary": "gpt-4.1 outperforms gpt-4o across the board",
    "html_url": "https://github.com/marketplace/models/azure-openai/gpt-4-1",
    "version": "2025-04-14",
    "capabilities": ["streaming", "tool-calling"],
    "limits": {"max_input_tokens": 1048576, "max_output_tokens": 32768},
    "rate_limit_tier": "high",
    "supported_input_modalities": ["text", "image"],
    "supported_output_modalities": ["text"],
    "tags": ["multipurpose", "multilingual", "multimodal"],
    "future": {"nested": [1, 2]},
}


def test_catalog_entry() -> None:
    model = msgspec.convert(CATALOG_ENTRY, CatalogModel)
    assert model.id == "openai/gpt-4.1"
    assert model.name == "OpenAI GPT-4.1"
    assert model.publisher == "OpenAI"
    assert model.registry == "azure-openai"
    assert model.summary.startswith("gpt-4.1")
    assert model.html_url.startswith("https://github.com/marketplace/")
    assert model.version == "2025-04-14"
    assert model.capabilities == ["streaming", "tool-calling"]
    assert model.limits.max_input_tokens == 1048576
    assert model.limits.max_output_tokens == 32768
    assert model.rate_limit_tier == "high"
    assert model.supported_input_modalities == ["text", "image"]
    assert model.supported_output_modalities == ["text"]
    assert model.tags == ["multipurpose", "multilingual", "multimodal"]
    assert model.owned_by is None


def test_catalog_entry_openai_style_and_sparse() -> None:
    model = decode(b'{"id":"llama3","object":"model","created":1,"owned_by":"me"}', CatalogModel)
    assert model.id == "llama3"
    assert model.owned_by == "me"
    assert model.limits is None
    assert model.rate_limit_tier is None
    assert model.tags == []
    entries = decode(json.dumps([CATALOG_ENTRY, {"id": "x", "limits": {}}]), list[CatalogModel])
    assert entries[1].limits.max_input_tokens is None


def test_embeddings_floats() -> None:
    result = decode(
        b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2,3]},'
        b'{"object":"embedding","index":1,"embedding":[]}],"model":"openai/text-embedding-3-small",'
        b'"usage":{"prompt_tokens":4,"total_tokens":4}}',
        EmbeddingsResponse,
    )
    assert result.object == "list"
    assert result.model == "openai/text-embedding-3-small"
    assert result.data[0].embedding == [0.1, -0.2, 3.0]
    assert all(isinstance(x, float) for x in result.data[0].embedding)
    assert result.data[1].index == 1
    assert result.data[1].embedding == []
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (4, 4)
    assert result.response is None


def test_embeddings_base64() -> None:
    result = decode(
        b'{"data":[{"index":0,"embedding":"AACAPwAAAEA="}],"model":"m"}', EmbeddingsResponse
    )
    assert result.data[0].embedding == "AACAPwAAAEA="
    assert result.data[0].object == "embedding"
    assert result.usage is None


def test_chunk_with_empty_choices_and_prompt_filter_results() -> None:
    chunk = decode(
        b'{"choices":[],"created":0,"id":"","model":"","object":"",'
        b'"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}',
        ChatCompletionChunk,
    )
    assert chunk.choices == []
    assert chunk.usage is None
    assert chunk.id == ""


def test_usage_chunk() -> None:
    chunk = decode(
        b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
        b'"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}',
        ChatCompletionChunk,
    )
    assert chunk.choices == []
    assert chunk.usage.total_tokens == 12


def test_chunk_without_model_with_null_content_and_tool_call_fragments() -> None:
    chunk = decode(
        b'{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":null,'
        b'"tool_calls":[{"index":1,"id":"call_9","type":"function",'
        b'"function":{"name":"f","arguments":"{\\"a\\""}}]},"finish_reason":null,'
        b'"logprobs":null}],"usage":null}',
        ChatCompletionChunk,
    )
    assert chunk.model == ""
    [choice] = chunk.choices
    assert choice.delta.role == "assistant"
    assert choice.delta.content is None
    assert choice.finish_reason is None
    [fragment] = choice.delta.tool_calls
    assert (fragment.index, fragment.id, fragment.type) == (1, "call_9", "function")
    assert fragment.function.name == "f"
    assert fragment.function.arguments == '{"a"'
    bare = decode(b'{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}', ChatCompletionChunk)
    assert bare.choices[0].delta.tool_calls[0].function is None


def test_accumulator_joins_chunks() -> None:
    chunks = [
        b'{"choices":[],"id":"","prompt_filter_results":[]}',
        b'{"id":"c1","created":5,"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
        b'{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}',
        b'{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":null,"tool_calls":['
        b'{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":"lo","tool_calls":['
        b'{"index":1,"id":"call_b","function":{"name":"g","arguments":"{\\"y\\":"}},'
        b'{"index":0,"function":{"arguments":"{\\"x\\":"}}]}}]}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":['
        b'{"index":0,"function":{"arguments":"1}"}},{"index":1,"function":{"arguments":"2}"}}]},'
        b'"finish_reason":"tool_calls"}]}',
        b'{"id":"c1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,'
        b'"total_tokens":3}}',
    ]
    accumulator = StreamAccumulator()
    for raw in chunks:
        accumulator.add(decode(raw, ChatCompletionChunk))
    completion = accumulator.completion()
    assert completion.id == "c1"
    assert completion.model == "m"
    assert completion.created == 5
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello"
    calls = choice.message.tool_calls
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "function", "f", '{"x":1}'),
        ("call_b", "function", "g", '{"y":2}'),
    ]
    assert completion.usage.total_tokens == 3


def test_accumulator_keeps_choices_apart_by_index() -> None:
    accumulator = StreamAccumulator()
    for raw in (
        b'{"choices":[{"index":1,"delta":{"content":"B1"}},{"index":0,"delta":{"content":"A1"}}]}',
        b'{"choices":[{"index":0,"delta":{"content":"A2"},"finish_reason":"stop"}]}',
        b'{"choices":[{"index":1,"delta":{"refusal":"no"},"finish_reason":"length"}]}',
    ):
        accumulator.add(decode(raw, ChatCompletionChunk))
    choices = accumulator.completion().choices
    assert [(c.index, c.message.content, c.finish_reason) for c in choices] == [
        (0, "A1A2", "stop"),
        (1, "B1", "length"),
    ]
    assert choices[1].message.refusal == "no"
    assert choices[0].message.tool_calls is None


# ---------------------------------------------------------------------------
# encoding requests: unset fields omitted, OpenAI-style dicts round-trip exactly
# ---------------------------------------------------------------------------


def test_request_struct_omits_unset_fields() -> None:
    request = ChatCompletionRequest(model="openai/gpt-4.1", messages=[UserMessage(content="hi")])
    assert msgspec.json.encode(request) == (
        b'{"model":"openai/gpt-4.1","messages":[{"role":"user","content":"hi"}]}'
    )
    embeddings = EmbeddingsRequest(model="m/e", input="x")
    assert msgspec.json.encode(embeddings) == b'{"model":"m/e","input":"x"}'
    plain = msgspec.to_builtins(AssistantMessage(content="ok"))
    assert plain == {"role": "assistant", "content": "ok"}


def test_request_structs_encode_every_part() -> None:
    request = ChatCompletionRequest(
        model="openai/gpt-4.1",
        messages=[
            SystemMessage(content="sys", name="boss"),
            UserMessage(
                content=[
                    TextPart(text="look"),
                    ImageURLPart(image_url=ImageURL(url="https://x/y.png", detail="low")),
                ]
            ),
            AssistantMessage(
                tool_calls=[ToolCall(id="c1", function=FunctionCall(name="f", arguments="{}"))]
            ),
            ToolMessage(content="42", tool_call_id="c1"),
        ],
        tools=[Tool(function=FunctionDefinition(name="f", parameters={"type": "object"}))],
        tool_choice=NamedToolChoice(function=NamedFunction(name="f")),
        response_format=ResponseFormatJSONSchema(
            json_schema=JSONSchema(name="answer", schema={"type": "object"}, strict=True)
        ),
        stream=True,
        stream_options=StreamOptions(include_usage=True),
        temperature=0.0,
        seed=0,
    )
    assert json.loads(msgspec.json.encode(request)) == {
        "model": "openai/gpt-4.1",
        "messages": [
            {"role": "system", "content": "sys", "name": "boss"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "seed": 0,
    }


# A request body in the shape of OpenAI's documentation examples: every role, image
# parts, an assistant tool call and its tool answer, tools, a named tool_choice and a
# json_schema response_format.
OPENAI_EXAMPLE: dict[str, Any] = {
    "model": "openai/gpt-4.1",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in JSON."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What's in this image?"},
                {
                    "type": "image_url",
                    "image_url": {
                        "url": "https://upload.wikimedia.org/wikipedia/commons/thumb/boardwalk.jpg",
                        "detail": "high",
                    },
                },
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
            "name": "alice",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc123",
                    "type": "function",
                    "function": {
                        "name": "get_current_weather",
                        "arguments": '{"location": "Boston, MA"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc123", "content": '{"temperature": 22}'},
        {"role": "assistant", "content": "It is 22 degrees in Boston."},
        {"role": "user", "content": "Thanks!"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {
                            "type": "string",
                            "description": "The city and state, e.g. San Francisco, CA",
                        },
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    },
                    "required": ["location"],
                },
                "strict": False,
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_current_weather"}},
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "weather_answer",
            "description": "A weather report",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"summary": {"type": "string"}},
                "required": ["summary"],
                "additionalProperties": False,
            },
        },
    },
    "temperature": 0.5,
    "top_p": 1.0,
    "max_tokens": 256,
    "frequency_penalty": -1.5,
    "presence_penalty": 2.0,
    "seed": 42,
    "stop": ["\n\n", "END"],
}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_openai_example_dict_converts_and_encodes_exactly() -> None:
    original = copy.deepcopy(OPENAI_EXAMPLE)
    request = msgspec.convert(OPENAI_EXAMPLE, ChatCompletionRequest)
    assert original == OPENAI_EXAMPLE  # the caller's dict is not changed
    roles = [type(m).__name__ for m in request.messages]
    assert roles == [
        "SystemMessage",
        "DeveloperMessage",
        "UserMessage",
        "AssistantMessage",
        "ToolMessage",
        "AssistantMessage",
        "UserMessage",
    ]
    # Every key given is sent back unchanged; only explicit nulls are dropped.
    assert json.loads(msgspec.json.encode(request)) == _without_nulls(OPENAI_EXAMPLE)


def test_openai_example_through_build_chat_body() -> None:
    body = build_chat_body(copy.deepcopy(OPENAI_EXAMPLE))
    assert json.loads(body) == _without_nulls(OPENAI_EXAMPLE)


@pytest.mark.parametrize(
    "response_format",
    [{"type": "text"}, {"type": "json_object"}],
)
def test_simple_response_formats(response_format: dict[str, str]) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "response_format": response_format,
    }
    assert json.loads(msgspec.json.encode(msgspec.convert(body, ChatCompletionRequest))) == body


@pytest.mark.parametrize("tool_choice", ["auto", "required", "none"])
def test_string_tool_choices(tool_choice: str) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "tool_choice": tool_choice,
    }
    assert json.loads(msgspec.json.encode(msgspec.convert(body, ChatCompletionRequest))) == body


def test_an_answer_message_can_be_sent_back_as_the_next_turn() -> None:
    """A ChatCompletionMessage (from an answer, or built by the accumulator) goes back
    into ``messages`` as an assistant message, role and tool-call type included."""
    decoded = decode(
        b'{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",'
        b'"function":{"name":"f","arguments":"{}"}}]}',
        ChatCompletionMessage,
    )
    built = ChatCompletionMessage(content="plain")
    accumulator = StreamAccumulator()
    accumulator.add(decode(b'{"choices":[{"delta":{"content":"streamed"}}]}', ChatCompletionChunk))
    streamed = accumulator.completion().choices[0].message
    body = json.loads(
        build_chat_body(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "q"}, decoded, built, streamed],
            }
        )
    )
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "assistant", "content": "plain"},
        {"role": "assistant", "content": "streamed"},
    ]


def test_tool_call_type_is_always_encoded() -> None:
    """OpenAI-compatible servers require ``type`` on an assistant message's tool calls."""
    body = json.loads(
        build_chat_body(
            {
                "model": "m",
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": ""},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c", "content": "r"},
                ],
            }
        )
    )
    assert body["messages"][0]["tool_calls"] == [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]


def test_embeddings_body_variants() -> None:
    assert json.loads(build_embeddings_body({"model": "m/e", "input": ["a", "b"]})) == {
        "model": "m/e",
        "input": ["a", "b"],
    }
    assert json.loads(
        build_embeddings_body(
            {
                "model": "m/e",
                "input": ("a",),
                "encoding_format": "base64",
                "dimensions": 256,
                "user": "u1",
            }
        )
    ) == {
        "model": "m/e",
        "input": ["a"],
        "encoding_format": "base64",
        "dimensions": 256,
        "user": "u1",
    }
