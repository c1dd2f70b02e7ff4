"""The sandbox's parcel network: cities, routes and the scans a parcel gets along them.

Everything here is carrier-neutral and pure: a plan is a list of scans with the simulated seconds
between them. Each protocol twin translates ``ScanCode`` into its own codes (Kuaidi100: state 0…6).

A route is ``origin outlet → origin hub → destination hub → destination outlet`` (the hubs merge when
both ends are in the same city). A return retraces the hubs the parcel has reached, with the same
durations, and ends signed for at the origin (退签).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lanjie.domain.states import InterceptType, TrackingStatus
from lanjie.sandbox.config import HopSeconds


@dataclass(frozen=True)
class City:
    name: str  # 杭州市
    short: str  # 杭州, used in site names
    area_code: str  # Kuaidi100-style administrative code
    area_name: str  # "浙江,杭州市"
    districts: tuple[str, str]  # two outlets per city, so same-city parcels have two ends


CITIES: tuple[City, ...] = (
    City("杭州市", "杭州", "CN330100000000", "浙江,杭州市", ("西湖", "滨江")),
    City("上海市", "上海", "CN310000000000", "上海", ("浦东", "闵行")),
    City("广州市", "广州", "CN440100000000", "广东,广州市", ("天河", "白云")),
    City("北京市", "北京", "CN110000000000", "北京", ("朝阳", "海淀")),
    City("成都市", "成都", "CN510100000000", "四川,成都市", ("武侯", "锦江")),
    City("武汉市", "武汉", "CN420100000000", "湖北,武汉市", ("洪山", "江汉")),
    City("深圳市", "深圳", "CN440300000000", "广东,深圳市", ("南山", "福田")),
    City("南京市", "南京", "CN320100000000", "江苏,南京市", ("鼓楼", "江宁")),
)

#: Canonical carrier codes the sandbox simulates (lanjie's short codes), with display names.
CARRIER_NAMES: dict[str, str] = {
    "zto": "中通快递", "yto": "圆通速递", "sto": "申通快递", "yunda": "韵达快递", "jtexpress": "极兔速递",
    "shunfeng": "顺丰速运", "ems": "EMS", "jd": "京东快递", "debangwuliu": "德邦快递",
    "youzhengguonei": "邮政快递包裹", "ups": "UPS",
}
# Kuaidi100's own codes and lanjie's native plugin codes for the same carriers are accepted as well.
_CARRIER_ALIASES = {"zhongtong": "zto", "yuantong": "yto", "shentong": "sto", "sf": "shunfeng", "jt": "jtexpress",
                    "jdl": "jd"}


def canonical_carrier(code: str) -> str | None:
    """The canonical code for a carrier code (short or Kuaidi100's), or None when not simulated."""
    code = code.strip().lower()
    code = _CARRIER_ALIASES.get(code, code)
    return code if code in CARRIER_NAMES else None


def find_city(text: str) -> City | None:
    """The sandbox city named in ``text`` (a city name or an address), if any."""
    for city in CITIES:
        if city.short in text:
            return city
    return None


def city_named(name: str) -> City:
    """A sandbox city for a name; an unknown name becomes a city of its own (no area code)."""
    found = find_city(name)
    if found is not None:
        return found
    short = re.sub(r"市$", "", name.strip()) or "未知"
    return City(name.strip() or "未知", short, "", name.strip(), ("城区", "新区"))


@dataclass(frozen=True)
class Contact:
    """Who sends or receives a parcel, before the world places them in a city."""

    name: str
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class Party:
    """Sender or recipient of a parcel."""

    name: str
    phone: str
    address: str
    city: City


class NodeKind(StrEnum):
    outlet = "outlet"  # 网点 / 营业部
    hub = "hub"  # 转运中心


@dataclass(frozen=True)
class Node:
    name: str
    city: City
    kind: NodeKind


def outlet(city: City, which: int = 0) -> Node:
    return Node(f"{city.short}{city.districts[which]}营业部", city, NodeKind.outlet)


def hub(city: City) -> Node:
    return Node(f"{city.short}转运中心", city, NodeKind.hub)


@dataclass(frozen=True)
class Route:
    nodes: tuple[Node, ...]  # origin outlet first, destination outlet last

    @staticmethod
    def between(origin: City, destination: City) -> Route:
        if origin == destination:
            return Route((outlet(origin, 0), hub(origin), outlet(destination, 1)))
        return Route((outlet(origin), hub(origin), hub(destination), outlet(destination)))

    def leg_seconds(self, index: int, hops: HopSeconds) -> float:
        """Duration of the leg between nodes ``index`` and ``index + 1`` (either direction)."""
        if index == 0:
            return hops.to_hub
        if index == len(self.nodes) - 2:
            return hops.to_outlet
        return hops.trunk


class ScanCode(StrEnum):
    """What happened at a scan, in the sandbox's own carrier-neutral words."""

    ordered = "ordered"  # label printed, waiting for pickup
    picked_up = "picked_up"
    departed = "departed"
    arrived_hub = "arrived_hub"
    arrived_outlet = "arrived_outlet"  # at the destination outlet
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    intercepted = "intercepted"  # the scan that caught a flagged parcel: it turns back here
    return_departed = "return_departed"
    return_arrived = "return_arrived"
    return_signed = "return_signed"  # 退签: signed for by the sender's side
    redirected = "redirected"  # the scan that caught a flagged parcel for an address change
    damaged = "damaged"
    lost = "lost"


STATUS_OF: dict[ScanCode, TrackingStatus] = {
    ScanCode.ordered: TrackingStatus.created,
    ScanCode.picked_up: TrackingStatus.picked_up,
    ScanCode.departed: TrackingStatus.in_transit,
    ScanCode.arrived_hub: TrackingStatus.in_transit,
    ScanCode.arrived_outlet: TrackingStatus.at_destination,
    ScanCode.out_for_delivery: TrackingStatus.out_for_delivery,
    ScanCode.delivered: TrackingStatus.delivered,
    ScanCode.intercepted: TrackingStatus.returning,
    ScanCode.return_departed: TrackingStatus.returning,
    ScanCode.return_arrived: TrackingStatus.returning,
    ScanCode.return_signed: TrackingStatus.returned,
    ScanCode.redirected: TrackingStatus.in_transit,
    ScanCode.damaged: TrackingStatus.damaged,
    ScanCode.lost: TrackingStatus.lost,
}


@dataclass(frozen=True)
class PlannedScan:
    """A scan still to come: ``delay_seconds`` (sim) after the parcel's previous scan."""

    code: ScanCode
    node_index: int  # position on the route, so a return knows where to start
    node: Node
    context: str  # the human text a tracking page shows
    delay_seconds: float

    @property
    def status(self) -> TrackingStatus:
        return STATUS_OF[self.code]


def _scan(code: ScanCode, index: int, node: Node, text: str, delay: float) -> PlannedScan:
    return PlannedScan(code, index, node, f"【{node.city.name}】{text}", delay)


def forward_plan(route: Route, hops: HopSeconds) -> list[PlannedScan]:
    """Every scan of a parcel from label to delivery; the first one has no delay."""
    nodes = route.nodes
    origin, last = nodes[0], len(nodes) - 1
    plan = [
        _scan(ScanCode.ordered, 0, origin, f"商家已下单，等待【{origin.name}】快递员揽收", 0.0),
        _scan(ScanCode.picked_up, 0, origin, f"【{origin.name}】已揽收", hops.pickup),
    ]
    for i in range(last):
        here, there = nodes[i], nodes[i + 1]
        arrived = ScanCode.arrived_outlet if i + 1 == last else ScanCode.arrived_hub
        plan.append(_scan(ScanCode.departed, i, here, f"快件离开【{here.name}】，已发往【{there.name}】",
                          hops.depart))
        plan.append(_scan(arrived, i + 1, there, f"快件已到达【{there.name}】", route.leg_seconds(i, hops)))
    destination = nodes[last]
    plan.append(_scan(ScanCode.out_for_delivery, last, destination,
                      f"【{destination.name}】派件员：王师傅 13900000000 正在为您派件", hops.dispatch))
    plan.append(_scan(ScanCode.delivered, last, destination,
                      "您的快件已签收，签收人：本人。如有疑问请联系派件员", hops.deliver))
    return plan


def stage_index(plan: list[PlannedScan], stage: TrackingStatus) -> int:
    """Index in a forward plan of the newest scan of a parcel created at ``stage``."""
    matching = [i for i, scan in enumerate(plan) if scan.status is stage]
    if not matching:
        raise ValueError(f"no scan of a forward route has status {stage}")
    # A parcel "in transit" has just left its origin outlet: the first of several in-transit scans.
    return matching[0] if stage is TrackingStatus.in_transit else matching[-1]


def return_plan(route: Route, hops: HopSeconds, at_index: int, intercept_type: InterceptType,
                sender: Party) -> list[PlannedScan]:
    """The catching scan at node ``at_index``, the way back through the hubs, and the return signature."""
    nodes = route.nodes
    here = nodes[at_index]
    plan = [_scan(ScanCode.intercepted, at_index, here, f"快件已拦截，将由【{here.name}】退回寄件人", 0.0)]
    for i in range(at_index, 0, -1):
        there, back = nodes[i], nodes[i - 1]
        plan.append(_scan(ScanCode.return_departed, i, there,
                          f"退回件离开【{there.name}】，已发往【{back.name}】", hops.depart))
        plan.append(_scan(ScanCode.return_arrived, i - 1, back, f"退回件已到达【{back.name}】",
                          route.leg_seconds(i - 1, hops)))
    origin = nodes[0]
    if intercept_type is InterceptType.return_to_outlet:
        plan.append(_scan(ScanCode.return_signed, 0, origin, f"退回件已由【{origin.name}】签收（退回寄件网点）",
                          hops.dispatch))
    else:
        plan.append(_scan(ScanCode.return_signed, 0, origin, f"退回件已签收，签收人：寄件人 {sender.name}",
                          hops.deliver))
    return plan


def redirect_plan(route: Route, hops: HopSeconds, at_index: int, new_recipient: Party) -> list[PlannedScan]:
    """The catching scan of an address change, then a delivery leg to the new address."""
    here = route.nodes[at_index]
    new_outlet = outlet(new_recipient.city)
    index = len(route.nodes) - 1
    travel = hops.trunk if new_recipient.city != here.city else hops.to_outlet
    return [
        _scan(ScanCode.redirected, at_index, here,
              f"快件已改址，由【{here.name}】转寄至新地址：{new_recipient.address}", 0.0),
        _scan(ScanCode.arrived_outlet, index, new_outlet, f"快件已到达【{new_outlet.name}】（改址件）", travel),
        _scan(ScanCode.out_for_delivery, index, new_outlet,
              f"【{new_outlet.name}】派件员：李师傅 13700000000 正在为您派件", hops.dispatch),
        _scan(ScanCode.delivered, index, new_outlet, f"您的快件已签收，签收人：{new_recipient.name}", hops.deliver),
    ]


def exception_scan(code: ScanCode, node_index: int, node: Node, carrier_name: str) -> PlannedScan:
    """A damage or loss scan at the parcel's last known site."""
    if code is ScanCode.damaged:
        text = f"快件在【{node.name}】发现外包装破损，已滞留处理"
    elif code is ScanCode.lost:
        text = f"快件超时未更新，可能已遗失，请联系{carrier_name}核实"
    else:
        raise ValueError(f"not an exception scan: {code}")
    return _scan(code, node_index, node, text, 0.0)
