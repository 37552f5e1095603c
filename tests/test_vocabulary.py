"""Case vocabulary: the names an officer already knows are told to Whisper (listed after its prompt), so that
it writes them as spelled; a name listed but not said is not written; the list is recorded with the
transcript."""
import numpy as np
import pytest
from helpers.speech import RATE, SPEECH, read_wav
from test_regions import ScriptedModel, fw_segment

from asr import vocabulary
from asr.engine import Transcriber, collect
from asr.guards import guard
from asr.types import TranscribeOptions
from core.transcript import Segment, Word

NAMED = "aishell/BAC009S0150W0034.wav"     # 丁香夏朵花园: base writes 定乡下躲 without the names
PLAIN = "aishell/BAC009S0150W0122.wav"     # no names in it
LISTED = "aishell/BAC009S0150W0473.wav"    # 成都武侯祠大街…: with the list, base wrote 成都、五后、四大街、几个外地人


def test_words_are_split_at_commas_kept_in_order_once_and_limited():
    assert vocabulary.parse("龙耀, 滨江，丁香、龙耀;;") == ("龙耀", "滨江", "丁香")
    assert vocabulary.parse("") == () and vocabulary.parse(None) == ()
    many = vocabulary.tidy(f"名字{i}" for i in range(100))
    assert len(many) == vocabulary.MAX_WORDS and many[0] == "名字0"
    assert len(vocabulary.tidy(["长" * 100])[0]) == vocabulary.MAX_WORD_CHARS


def test_the_prompt_lists_the_words_after_the_sentence():
    assert vocabulary.prompt("以下是普通话的句子。", ["龙耀", "滨江"]) == "以下是普通话的句子。龙耀、滨江。"
    assert vocabulary.prompt("以下是普通话的句子。", []) == "以下是普通话的句子。"


def test_one_listed_name_is_speech_and_the_list_said_back_is_not():
    prompt = vocabulary.prompt("以下是普通话的句子。", ["哈根达斯", "龙耀", "滨江"])
    words = ("哈根达斯", "龙耀", "滨江")

    def seg(text):
        return Segment(0, 1.0, 2.0, text, (Word(1.0, 2.0, text, 0.9),))

    assert guard(seg("哈根达斯"), 10.0, prompt, words) is not None
    assert guard(seg("龙耀、滨江。"), 10.0, prompt, words) is None
    assert guard(seg("龙耀 滨江。"), 10.0, prompt, words) is None and guard(seg("龙耀滨江"), 10.0, prompt, words) is None
    assert guard(seg("以下是普通话的句子"), 10.0, prompt, words) is None
    assert guard(seg("龙耀说他去了滨江"), 10.0, prompt, words) is not None


def test_the_vocabulary_reaches_every_decode_and_the_reproduce_record():
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), read_wav(SPEECH / PLAIN)[0][: 3 * RATE]])
    model = ScriptedModel(lambda seconds, n: [fw_segment("就是根据经济体", 0.5, 0.3)])
    segments, info = Transcriber(model, "scripted").transcribe_array(
        audio, TranscribeOptions(language="zh", hotwords=("龙耀", "滨江")))
    t = collect(segments, info)
    assert all(kw["initial_prompt"] == "以下是普通话的句子。龙耀、滨江。" for _, kw in model.calls)
    assert t.to_dict()["reproduce"]["vocabulary"] == ["龙耀", "滨江"]


def test_speech_that_only_gives_the_list_back_is_decoded_without_the_vocabulary_before_it_is_marked():
    # Whisper, prompted with the list, says the list back on every decode (the guards drop it); without the
    # list it reads the speech: the region keeps its words, it is not "[听不清]"
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), read_wav(SPEECH / PLAIN)[0][: 3 * RATE]])
    listed = "以下是普通话的句子。龙耀、滨江。"

    def answer(seconds, n):
        prompt = model.calls[-1][1]["initial_prompt"] or ""
        return [fw_segment("龙耀、滨江。" if "龙耀" in prompt else "就是根据经济体", 0.5, 0.3)]

    model = ScriptedModel(answer)
    segments, info = Transcriber(model, "scripted").transcribe_array(
        audio, TranscribeOptions(language="zh", hotwords=("龙耀", "滨江")))
    t = collect(segments, info)
    assert [s.text for s in t.segments] == ["就是根据经济体"]
    assert info.coverage.with_words == 1 and info.coverage.unintelligible == 0 and info.coverage.retried == 1
    prompts = [kw["initial_prompt"] for _, kw in model.calls]
    assert prompts[0] == listed and not prompts[-1].startswith(listed) and prompts[-1].startswith("以下是普通话")


def test_a_listed_name_heard_as_a_sound_alike_is_written_as_spelled_with_its_times():
    from asr.respell import respell

    words = (Word(1.0, 1.3, "他在", 0.9), Word(1.3, 1.6, "龙", 0.9), Word(1.6, 1.9, "药", 0.9),
             Word(1.9, 2.4, "公司上班", 0.9))
    seg = Segment(0, 1.0, 2.4, "他在龙药公司上班", words, "suspect", 1)
    out = respell(seg, ("龙耀", "丁香夏朵"))
    assert out.text == "他在龙耀公司上班"
    assert [(w.start, w.end, w.text) for w in out.words] == [(1.0, 1.3, "他在"), (1.3, 1.6, "龙"), (1.6, 1.9, "耀"),
                                                             (1.9, 2.4, "公司上班")]
    assert respell(Segment(0, 0, 1, "住在定乡下躲小区", ()), ("丁香夏朵",)).text == "住在丁香夏朵小区"
    assert respell(Segment(0, 0, 1, "找左小雷", ()), ("左小蕾",)).text == "找左小蕾"   # 3+ characters: one tone off


def test_a_name_is_never_written_where_its_own_sounds_were_not_heard():
    from asr.respell import respell

    for text, listed in [("往定向那边走", ("丁香",)),      # dìng xiàng is not dīng xiāng
                         ("我叫王伟", ("王",)),             # one character: left to the prompt
                         ("找左晓雨", ("左小蕾",)),         # two syllables off
                         ("讲他的事迹", ("视计",)),         # 事迹 is an everyday word: Whisper heard words
                         ("龙药", ())]:                    # no vocabulary
        assert respell(Segment(0, 0, 1, text, ()), listed).text == text, (text, listed)
    assert respell(Segment(0, 0, 1, "龙耀和龙药", ()), ("龙耀",)).text == "龙耀和龙耀"   # the name as said, kept


def test_the_engine_writes_the_listed_spelling_of_what_it_heard():
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), read_wav(SPEECH / PLAIN)[0][: 3 * RATE]])
    model = ScriptedModel(lambda seconds, n: [fw_segment("我在龙药工作", 0.5, 0.3)])
    with_list, info = Transcriber(model, "scripted").transcribe_array(
        audio, TranscribeOptions(language="zh", hotwords=("龙耀",)))
    assert [s.text for s in collect(with_list, info).segments] == ["我在龙耀工作"]
    without, info = Transcriber(model, "scripted").transcribe_array(audio, TranscribeOptions(language="zh"))
    assert [s.text for s in collect(without, info).segments] == ["我在龙药工作"]


def test_a_region_decoded_again_without_the_list_still_gets_the_listed_spelling():
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), read_wav(SPEECH / PLAIN)[0][: 3 * RATE]])

    def answer(seconds, n):   # the list said back while it is in the prompt; a sound-alike without it
        prompt = model.calls[-1][1]["initial_prompt"] or ""
        return [fw_segment("龙耀、滨江。" if "龙耀" in prompt else "我在龙药工作", 0.5, 0.3)]

    model = ScriptedModel(answer)
    segments, info = Transcriber(model, "scripted").transcribe_array(
        audio, TranscribeOptions(language="zh", hotwords=("龙耀", "滨江")))
    assert [s.text for s in collect(segments, info).segments] == ["我在龙耀工作"]


def test_a_reply_read_as_a_lone_listed_name_stays_only_where_it_is_heard_without_the_list_too():
    from asr.stream import StreamOptions, replay

    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), read_wav(SPEECH / PLAIN)[0][: 2 * RATE],
                            np.zeros(2 * RATE, dtype=np.float32)])
    # after the list Whisper writes its first name; without it: other sounds, or the name's own sounds
    for heard, written in (("成都。", "成都。"), ("龙药。", "龙耀。")):
        def answer(seconds, n, heard=heard):
            return [fw_segment("龙耀。" if "龙耀" in (model.calls[-1][1]["initial_prompt"] or "") else heard,
                               0.5, 0.3)]

        model = ScriptedModel(answer)
        segments, info = Transcriber(model, "scripted").transcribe_array(
            audio, TranscribeOptions(language="zh", hotwords=("龙耀", "滨江")))
        assert [s.text for s in collect(segments, info).segments] == [written], heard
        assert info.coverage.retried == 1 and info.coverage.with_words == 1
        finals, _ = replay(Transcriber(model, "scripted"), audio[None, :],
                           StreamOptions(language="zh", partials=False, hotwords=("龙耀", "滨江")))
        assert [s.text for s in finals] == [written], heard


def test_a_session_s_own_names_come_first_then_the_given_words_then_the_glossary(tmp_path):
    from service.vocabulary import for_session

    (tmp_path / "vocabulary.txt").write_text("# 本单位常用\n成都\n滨江, 龙耀\n", encoding="utf-8")
    got = for_session(tmp_path, ("丁香",), suspect="赵六", officers=("张三",), room="讯问室1", case_id="C-1")
    assert got == ("赵六", "张三", "讯问室1", "C-1", "丁香", "成都", "滨江", "龙耀")
    assert for_session(tmp_path / "nowhere") == ()


@pytest.mark.model
def test_a_listed_name_is_written_as_spelled_and_an_absent_one_is_not_written(transcriber):
    def text(clip, words):
        segments, info = transcriber.transcribe(str(SPEECH / clip), TranscribeOptions(language="zh",
                                                                                      hotwords=words))
        return "".join(s.text for s in collect(segments, info).segments)

    absent = ("龙耀", "滨江", "佐野", "哈根达斯")
    assert "丁香" not in text(NAMED, ())
    assert "丁香" in text(NAMED, ("佐野", "丁香", "夏朵", "滨江"))
    said = text(PLAIN, absent)
    assert said and not any(name in said for name in absent), said


@pytest.mark.model
def test_the_cli_takes_hotwords_and_the_glossary(tmp_path, home, transcriber):
    import json

    from helpers.cli import xunlu

    h = tmp_path / "home"
    (h / "models").mkdir(parents=True)
    (h / "models" / "whisper-base").symlink_to(home / "models" / "whisper-base")
    (h / "vocabulary.txt").write_text("成都\n", encoding="utf-8")
    r = xunlu("transcribe", str(SPEECH / PLAIN), "--hotwords", "龙耀，滨江", home=h)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["reproduce"]["vocabulary"] == ["龙耀", "滨江", "成都"]


@pytest.mark.model
def test_the_decoder_may_not_write_the_list_mark_only_while_a_list_is_in_its_prompt(transcriber):
    model = transcriber.model
    barred = vocabulary.barred(model, vocabulary.prompt("以下是普通话的句子。", ["龙耀", "滨江"]))["suppress_tokens"]
    assert barred[0] == -1 and all("、" in model.hf_tokenizer.decode([t]) for t in barred[1:])
    assert set(model.hf_tokenizer.encode("、", add_special_tokens=False).ids) <= set(barred)
    assert vocabulary.barred(model, vocabulary.prompt("以下是普通话的句子。", ["龙耀"])) == {}
    assert vocabulary.barred(model, "以下是普通话的句子。") == {} and vocabulary.barred(model, None) == {}
    assert vocabulary.barred(object(), "龙耀、滨江。") == {}


@pytest.mark.model
def test_the_list_s_mark_and_its_absent_names_are_not_written_on_any_path(transcriber):
    from asr.stream import StreamOptions, replay

    words = ("龙耀", "成都", "佐野", "武侯祠", "滨江", "小猴子", "哈根达斯")
    said = {}
    for name, batch in (("offline", 0), ("batched", 8)):
        segments, info = transcriber.transcribe(str(SPEECH / LISTED), TranscribeOptions(
            language="zh", hotwords=words, batch_size=batch))
        said[name] = "".join(s.text for s in collect(segments, info).segments)
    clip = read_wav(SPEECH / LISTED)[0]
    audio = np.concatenate([np.zeros(RATE, dtype=np.float32), clip, np.zeros(2 * RATE, dtype=np.float32)])
    finals, _ = replay(transcriber, audio[None, :], StreamOptions(language="zh", partials=False, hotwords=words))
    said["live"] = "".join(s.text for s in finals)
    absent = ("龙耀", "佐野", "滨江", "哈根达斯")
    assert all(text and "、" not in text for text in said.values()), said
    # live decodes the opening 成都 alone; after the list it came out as the list's first name, 龙耀
    assert not any(name in text for name in absent for text in said.values()), said


def test_a_lone_listed_name_stays_only_where_the_decode_without_the_list_hears_it_too():
    from asr.stream_decode import UtteranceDecoder

    decoder = UtteranceDecoder(ScriptedModel([]), "zh", hotwords=("龙耀", "成都", "丁香"))

    def seg(start, end, text):
        return Segment(0, start, end, text, (Word(start, end, text, 0.5),), "suspect", 1)

    said = [seg(0.6, 1.0, "龙耀。"), seg(2.0, 7.3, "武侯祠大街几个外地人。")]
    calls = []

    def without_list(text):
        def again():
            calls.append(text)
            return [seg(0.6, 1.0, text), seg(2.0, 7.3, "五后四大街几个外地人。")]
        return again

    # heard as other sounds without the list: what that decode heard stands, the rest of the decode is kept
    assert [s.text for s in decoder.confirm_names(said, without_list("强度。"))] == ["强度。", "武侯祠大街几个外地人。"]
    # heard as the name's own sounds (a sound-alike written as listed): the name stays
    assert decoder.confirm_names(said, without_list("龙耀。")) == said
    # no lone name: nothing is decoded again
    plain = [seg(0.6, 1.0, "龙耀在成都。")]
    assert decoder.confirm_names(plain, without_list("x")) is plain and calls == ["强度。", "龙耀。"]


def test_the_bench_leaves_out_only_common_words_that_its_name_tagger_takes_from_the_shared_clips():
    from helpers.speech import manifest

    from bench.vocabulary import NOT_NAMES, names_of

    tagged = {n for row in manifest().values() if row["language"] == "zh" for n in names_of(row["reference"])}
    assert NOT_NAMES <= tagged, sorted(NOT_NAMES - tagged)
    assert {"左小蕾", "佐野", "龙耀", "武侯祠", "潍坊", "坎镇"} <= tagged - NOT_NAMES


def test_a_number_written_with_the_case_number_s_digits_stands_only_where_heard_without_the_list():
    from asr.guards import said_back
    from asr.stream_decode import UtteranceDecoder

    listed = ("张伟", "张警官", "讯问室1", "DEMO-2026-001")
    # what the list may have written: a lone name, or the case number's digits with the name before them
    assert said_back("张伟。", listed) == ("张伟",)
    assert said_back("张伟2026-2015。", listed) == ("张伟", "2026")
    assert said_back("张伟在任职的四年时间里", listed) == ()        # a name in a sentence is speech
    assert said_back("2016、2015", listed) == ()
    decoder = UtteranceDecoder(ScriptedModel([]), "zh", hotwords=listed)

    def seg(text):
        return Segment(0, 15.4, 17.4, text, (Word(15.4, 17.4, text, 0.5),), "suspect", 1)

    # the phone number said as 二零一六 二零一五, decoded after the demo's list and without it
    assert [s.text for s in decoder.confirm_names([seg("张伟2026-2015。")], lambda: [seg("2016、2015")])] == \
        ["2016、2015"]
    # a case number that was said is heard without the list too, and stays as the list spells it
    said = [seg("案号DEMO-2026-001")]
    assert decoder.confirm_names(said, lambda: [seg("案号DEMO 2026 001")]) == said
