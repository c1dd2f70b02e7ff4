"""The dashboard page: the week of ``tests.service.test_dashboard.seed_week`` rendered in both languages, the
period form, the breakdown by stage, the empty state, roles, and another shop's rows never counted."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from lanjie.console import charts
from lanjie.service import shops
from lanjie.service.ids import utcnow
from tests.console.conftest import ConsoleWorld, Person
from tests.service.test_dashboard import seed_week

WEEK = "/console/dashboard?from=2026-11-01&to=2026-11-07"


@pytest.fixture
def seeded(console: ConsoleWorld) -> ConsoleWorld:
    with console.engine.begin() as conn:
        for shop in console.shops:
            shops.upsert_carrier_account(conn, shop.id, "sf", {"partner_id": "p", "check_word": "w"})
    seed_week(console.container, console.shops[0].id, console.shops[1].id)
    return console


def text_of(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped, spaces squeezed)."""
    found = re.search(rf'<(\w+)[^>]* id="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S)
    assert found is not None, element_id
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))).split())


def row(page: str, table_id: str, attribute: str) -> list[str]:
    """The cells' texts of the row marked ``attribute`` (e.g. ``data-group="sf:sf"``) in table ``table_id``."""
    table = re.search(rf'<table id="{re.escape(table_id)}">(.*?)</table>', page, re.S)
    assert table is not None, table_id
    found = re.search(rf"<tr {re.escape(attribute)}>(.*?)</tr>", table.group(1), re.S)
    assert found is not None, attribute
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)]


def tiles(page: str) -> dict[str, str]:
    names = ("success-rate", "answer-p50", "answer-p95", "refund-p50", "refund-p95", "dispute-rate", "fees",
             "recovered", "returns-in-transit", "returns-stalled", "claims-open", "claims-paid")
    return {name: text_of(page, f"tile-{name}") for name in names}


def english(person: Person) -> Person:
    person.client.cookies.set("lanjie_lang", "en")
    return person


def test_the_weeks_figures_in_chinese(seeded: ConsoleWorld) -> None:
    page = seeded.sign_in("owner").get(WEEK)
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert tiles(page.text) == {
        "success-rate": "60.0%", "answer-p50": "1 分 0 秒", "answer-p95": "2 分 0 秒", "refund-p50": "10 分 0 秒",
        "refund-p95": "3 小时 0 分", "dispute-rate": "42.9%", "fees": "¥4.50", "recovered": "¥135.00",
        "returns-in-transit": "1", "returns-stalled": "1", "claims-open": "1", "claims-paid": "¥25.00"}
    assert text_of(page.text, "period-showing") == "2026-11-01 至 2026-11-07（Asia/Shanghai）"
    assert row(page.text, "success-table", 'data-group="kuaidi100:zto"') == [
        "中通 (kuaidi100)", "3", "2", "1", "0", "0", "0", "0", "66.7%"]
    assert row(page.text, "success-table", 'data-group="sf:sf"') == [
        "顺丰", "3", "1", "0", "0", "1", "1", "0", "50.0%"]
    assert row(page.text, "success-table", 'data-group="total"') == [
        "合计", "6", "3", "1", "0", "1", "1", "0", "60.0%"]
    assert row(page.text, "times-table", 'data-measure="answer"') == [
        "拦截请求 → 快递公司答复", "5", "1 分 0 秒", "2 分 0 秒"]
    assert '<td class="num" data-seconds="600.0">' in page.text
    assert '<td class="num" data-seconds="10800.0">' in page.text
    assert row(page.text, "times-table", 'data-measure="intercept_refund"') == [
        "首次拦截请求 → 退款成功", "1", "3 小时 0 分", "3 小时 0 分"]
    assert row(page.text, "disputes-table", 'data-item="disputed"') == ["有争议", "3"]
    assert row(page.text, "disputes-table", 'data-item="cases"') == ["新开售后单", "7"]
    assert row(page.text, "money-table", 'data-item="fees"') == ["拦截费用", "2", "¥4.50"]
    assert row(page.text, "money-table", 'data-item="fees_other"') == ["其他币种费用", "—", "USD 5.00"]
    assert row(page.text, "money-table", 'data-item="goods"') == ["完好退回的货值", "1", "¥110.00"]
    assert row(page.text, "money-table", 'data-item="payouts"') == ["理赔到账", "1", "¥25.00"]
    assert row(page.text, "returns-table", 'data-item="stalled"') == ["停滞", "1", "¥110.00"]
    assert row(page.text, "claims-table", 'data-item="open"') == ["未结理赔", "1", "¥30.00"]
    assert "dashboard-empty" not in page.text and "period-error" not in page.text


def test_the_weeks_figures_in_english(seeded: ConsoleWorld) -> None:
    page = english(seeded.sign_in("agent")).get(WEEK)
    assert page.status_code == 200 and 'lang="en"' in page.text
    assert tiles(page.text) == {
        "success-rate": "60.0%", "answer-p50": "1 min 0 s", "answer-p95": "2 min 0 s", "refund-p50": "10 min 0 s",
        "refund-p95": "3 h 0 min", "dispute-rate": "42.9%", "fees": "¥4.50", "recovered": "¥135.00",
        "returns-in-transit": "1", "returns-stalled": "1", "claims-open": "1", "claims-paid": "¥25.00"}
    assert text_of(page.text, "period-showing") == "2026-11-01 to 2026-11-07 (Asia/Shanghai)"
    assert row(page.text, "success-table", 'data-group="total"') == [
        "Total", "6", "3", "1", "0", "1", "1", "0", "60.0%"]
    assert row(page.text, "times-table", 'data-measure="opened_refund"') == [
        "Case opened → refund succeeded", "2", "10 min 0 s", "3 h 0 min"]
    assert row(page.text, "money-table", 'data-item="recovered"') == ["Recovered in all", "—", "¥135.00"]
    assert "Median (P50)" in page.text and "95th percentile (P95)" in page.text


def test_the_charts_are_labelled_images_without_inline_style(seeded: ConsoleWorld) -> None:
    page = seeded.sign_in("owner").get(WEEK).text
    assert 'style="' not in page and "<script>" not in page
    for chart in ("chart-success", "chart-money", "chart-returns"):
        assert f'id="{chart}" role="img" aria-labelledby="{chart}-title {chart}-desc"' in page
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
    assert text_of(page, "chart-success-title") == "各快递公司拦截结果"
    assert text_of(page, "chart-success-desc").endswith(
        "中通 (kuaidi100)：成功 2，未成功 1，进行中 0，成功率 66.7%。 顺丰：成功 1，未成功 1，进行中 1，成功率 50.0%。")
    assert text_of(page, "chart-money-desc") == "拦截费用 ¥4.50；完好退回的货值 ¥110.00；理赔到账 ¥25.00。"
    # "中通 (kuaidi100)" takes 2 × 12 + 12 × 7 + 14 = 122; the plot is 640 - 122 - 110 = 408 wide, filled by
    # the 3 intercepts of a row
    assert 'class="seg-ok" fill="#16692d" x="122" y="10" width="272" height="18"' in page  # 中通 (kuaidi100)
    assert 'class="seg-bad" fill="#a1130b" x="394" y="10" width="136" height="18"' in page
    assert 'class="seg-pending" fill="#0b4f8a" x="394" y="40" width="136" height="18"' in page  # 顺丰


def test_a_bar_chart_scales_to_its_longest_bar_and_escapes_its_words() -> None:
    svg = charts.bar_chart("c1", "Title <1>", "Desc & more", [
        charts.Bar("<b>", (charts.Part(3, "seg-ok"), charts.Part(1, "seg-bad")), "75.0%"),
        charts.Bar("甲乙", (charts.Part(2, "seg-ok"), charts.Part(0, "seg-bad")), "2")])
    # labels need at most 2 × 12 + 14 = 38, less than the least room (60): bars span 640 - 60 - 110 = 470
    assert str(svg) == (
        '<svg class="chart" id="c1" role="img" aria-labelledby="c1-title c1-desc" viewBox="0 0 640 68" '
        'width="100%" height="68" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        '<title id="c1-title">Title &lt;1&gt;</title><desc id="c1-desc">Desc &amp; more</desc>'
        '<g class="row"><text x="52" y="19" text-anchor="end" dominant-baseline="middle">&lt;b&gt;</text>'
        '<rect class="seg-ok" fill="#16692d" x="60" y="10" width="352.5" height="18"/>'
        '<rect class="seg-bad" fill="#a1130b" x="412.5" y="10" width="117.5" height="18"/>'
        '<text x="536" y="19" dominant-baseline="middle" class="figure">75.0%</text></g>'
        '<g class="row"><text x="52" y="49" text-anchor="end" dominant-baseline="middle">甲乙</text>'
        '<rect class="seg-ok" fill="#16692d" x="60" y="40" width="235" height="18"/>'
        '<text x="301" y="49" dominant-baseline="middle" class="figure">2</text></g></svg>')


def test_the_breakdown_by_stage(seeded: ConsoleWorld) -> None:
    person = seeded.sign_in("owner")
    page = person.get(WEEK + "&breakdown=stage").text
    assert '<option value="stage" selected>按拦截时包裹阶段</option>' in page and 'id="stage-rule"' in page
    assert row(page, "success-table", 'data-group="created"') == ["待揽收", "1", "0", "0", "0", "0", "1", "0", "—"]
    assert row(page, "success-table", 'data-group="picked_up"') == ["已揽收", "1", "0", "0", "0", "1", "0", "0", "0.0%"]
    assert row(page, "success-table", 'data-group="in_transit"') == [
        "运输中", "4", "3", "1", "0", "0", "0", "0", "75.0%"]
    assert 'data-group="kuaidi100:zto"' not in page
    english_page = english(person).get(WEEK + "&breakdown=stage").text
    assert [row(english_page, "success-table", f'data-group="{g}"')[0] for g in ("created", "picked_up",
                                                                                  "in_transit")] == [
        "Label printed", "Picked up", "In transit"]
    assert text_of(english_page, "chart-success-title") == "Intercept outcomes by parcel stage"


def test_the_period_chooses_the_rows(seeded: ConsoleWorld) -> None:
    person = seeded.sign_in("owner")
    before = person.get("/console/dashboard?from=2026-10-25&to=2026-10-31").text  # e only
    assert row(before, "success-table", 'data-group="kuaidi100:zto"') == [
        "中通 (kuaidi100)", "1", "1", "0", "0", "0", "0", "0", "100.0%"]
    assert 'data-group="sf:sf"' not in before
    assert (text_of(before, "tile-fees"), text_of(before, "tile-dispute-rate")) == ("¥9.99", "0.0%")
    assert text_of(before, "tile-returns-stalled") == "1"  # returns are now, whatever the period
    one_day = person.get("/console/dashboard?from=2026-11-02&to=2026-11-02").text  # a, b, c opened that day
    assert row(one_day, "disputes-table", 'data-item="cases"') == ["新开售后单", "3"]
    assert text_of(one_day, "tile-success-rate") == "33.3%"  # a; b refused; c missed → 1 of 3


def test_an_empty_period_and_the_default_last_seven_days(console: ConsoleWorld) -> None:
    person = console.sign_in("owner")
    page = person.get("/console/dashboard").text
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert f'id="period-from" name="from" value="{today - timedelta(days=6)}"' in page
    assert f'id="period-to" name="to" value="{today}"' in page
    assert '<option value="carrier" selected>按快递公司</option>' in page
    assert text_of(page, "dashboard-empty") == "暂无数据：所选期间内没有新开的售后单或发起的拦截。"
    assert text_of(page, "success-empty") == "暂无拦截。"
    assert set(tiles(page).values()) == {"—", "¥0.00", "0"}
    assert tiles(page)["refund-p95"] == "—" and tiles(page)["fees"] == "¥0.00"
    english_page = english(person).get("/console/dashboard?breakdown=stage").text
    assert text_of(english_page, "dashboard-empty") == (
        "No data yet: no case was opened and no intercept requested in this period.")
    assert text_of(english_page, "success-empty") == "No intercepts yet."


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-11-07&to=2026-11-01", "开始日期晚于结束日期，已显示最近 7 天。"),
    ("from=11/01/2026&to=2026-11-07", "日期格式应为 年-月-日，已显示最近 7 天。"),
    ("from=2024-01-01&to=2026-11-07", "期间最长 366 天，已显示最近 7 天。"),
])
def test_unusable_dates_say_so_and_show_the_last_seven_days(console: ConsoleWorld, query: str, message: str) -> None:
    page = console.sign_in("agent").get(f"/console/dashboard?{query}&breakdown=nonsense")
    assert page.status_code == 200
    assert f'<p id="period-error" class="error" role="alert">{message}</p>' in page.text
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert f'value="{today - timedelta(days=6)}"' in page.text
    assert '<option value="carrier" selected>' in page.text


def test_only_owners_and_agents_see_it(console: ConsoleWorld) -> None:
    warehouse = console.sign_in("warehouse").get(WEEK)
    assert warehouse.status_code == 403 and "无权访问" in warehouse.text and "tile-fees" not in warehouse.text
    anonymous = console.anonymous().get(WEEK)
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303, "/console/sign-in?next=/console/dashboard%3Ffrom%3D2026-11-01%26to%3D2026-11-07")
    assert console.sign_in("agent").get(WEEK).status_code == 200


def test_another_shop_sees_only_its_own(seeded: ConsoleWorld) -> None:
    page = seeded.sign_in("owner", shop=1).get(WEEK).text
    assert row(page, "success-table", 'data-group="kuaidi100:zto"') == [
        "中通 (kuaidi100)", "1", "1", "0", "0", "0", "0", "0", "100.0%"]
    assert 'data-group="sf:sf"' not in page
    assert tiles(page) == {
        "success-rate": "100.0%", "answer-p50": "1 分 0 秒", "answer-p95": "1 分 0 秒", "refund-p50": "—",
        "refund-p95": "—", "dispute-rate": "100.0%", "fees": "¥7.00", "recovered": "¥0.00",
        "returns-in-transit": "1", "returns-stalled": "0", "claims-open": "0", "claims-paid": "¥0.00"}
