"""Words of the dashboard (看板)."""

MESSAGES = {
    "dashboard.title": ("看板", "Dashboard"),
    "dashboard.period": ("统计期间", "Period"),
    "dashboard.from": ("开始日期", "From"),
    "dashboard.to": ("结束日期", "To"),
    "dashboard.breakdown": ("拦截成功率分组", "Intercept success by"),
    "dashboard.by.carrier": ("按快递公司", "By carrier"),
    "dashboard.by.stage": ("按拦截时包裹阶段", "By parcel stage"),
    "dashboard.show": ("查看", "Show"),
    "dashboard.showing": ("{start} 至 {end}（{zone}）", "{start} to {end} ({zone})"),
    "dashboard.scope": ("拦截相关数字统计期间内发起的拦截；售后、退款、争议、找回与理赔统计期间内新开的售后单；"
                        "退货在途为当前状态，不受期间限制。",
                        "Intercept figures count the intercepts requested in the period; refunds, disputes, "
                        "recovered value and claims count the cases opened in it; returns under way are as they "
                        "stand now, whatever the period."),
    "dashboard.empty": ("暂无数据：所选期间内没有新开的售后单或发起的拦截。",
                        "No data yet: no case was opened and no intercept requested in this period."),
    "dashboard.error.date": ("日期格式应为 年-月-日，已显示最近 7 天。",
                             "Dates must read YYYY-MM-DD; showing the last 7 days."),
    "dashboard.error.order": ("开始日期晚于结束日期，已显示最近 7 天。",
                              "The start date is after the end date; showing the last 7 days."),
    "dashboard.error.span": ("期间最长 366 天，已显示最近 7 天。",
                             "A period is at most 366 days; showing the last 7 days."),
    "dashboard.tiles": ("概览", "Summary"),
    # intercept success
    "dashboard.success.title": ("拦截成功率", "Intercept success rate"),
    "dashboard.success.rate": ("拦截成功率", "Intercept success rate"),
    "dashboard.success.rule": ("成功率 = 成功 ÷（成功 + 被拒 + 失败 + 未拦住）；进行中与已撤回的不计入。",
                               "Rate = succeeded ÷ (succeeded + refused + failed + missed); pending and "
                               "withdrawn intercepts are left out."),
    "dashboard.stage.rule": ("包裹阶段：拦截请求时（或之前）最新一条轨迹的状态；尚无轨迹记为「待揽收」。",
                             "Parcel stage: the status of the newest scan at or before the request; a parcel "
                             "without a scan counts as “label printed”."),
    "dashboard.success.none": ("暂无拦截。", "No intercepts yet."),
    "dashboard.col.carrier": ("快递公司", "Carrier"),
    "dashboard.col.stage": ("包裹阶段", "Parcel stage"),
    "dashboard.col.requested": ("发起", "Requested"),
    "dashboard.col.succeeded": ("成功", "Succeeded"),
    "dashboard.col.refused": ("被拒", "Refused"),
    "dashboard.col.failed": ("失败", "Failed"),
    "dashboard.col.missed": ("未拦住", "Missed"),
    "dashboard.col.pending": ("进行中", "Pending"),
    "dashboard.col.cancelled": ("已撤回", "Withdrawn"),
    "dashboard.col.rate": ("成功率", "Success rate"),
    "dashboard.total": ("合计", "Total"),
    "dashboard.chart.success": ("各{by}拦截结果", "Intercept outcomes {by}"),
    "dashboard.chart.success.by.carrier": ("快递公司", "by carrier"),
    "dashboard.chart.success.by.stage": ("包裹阶段", "by parcel stage"),
    "dashboard.chart.success.desc": ("每行一组：成功、被拒/失败/未拦住、进行中的拦截数，行末为成功率。{rows}",
                                     "One row per group: intercepts succeeded, refused/failed/missed and pending; "
                                     "the success rate at the end of each row. {rows}"),
    "dashboard.chart.success.row": ("{label}：成功 {ok}，未成功 {bad}，进行中 {pending}，成功率 {rate}。",
                                    "{label}: {ok} succeeded, {bad} not, {pending} pending, rate {rate}."),
    "dashboard.legend.ok": ("成功", "Succeeded"),
    "dashboard.legend.bad": ("被拒/失败/未拦住", "Refused/failed/missed"),
    "dashboard.legend.pending": ("进行中", "Pending"),
    # times
    "dashboard.times.title": ("处理时长", "How long it took"),
    "dashboard.times.rule": ("中位数（P50）与第 95 百分位（P95），按最近秩法："
                             "n 个时长从小到大排列，取第 ⌈p × n ÷ 100⌉ 个。",
                             "Median (P50) and 95th percentile (P95), nearest rank: of n durations in order, "
                             "the ⌈p × n ÷ 100⌉-th."),
    "dashboard.times.answer": ("拦截请求 → 快递公司答复", "Intercept request → carrier's answer"),
    "dashboard.times.opened_refund": ("售后单创建 → 退款成功", "Case opened → refund succeeded"),
    "dashboard.times.intercept_refund": ("首次拦截请求 → 退款成功", "First intercept request → refund succeeded"),
    "dashboard.times.answer_p50": ("答复时长中位数（P50）", "Time to answer, median (P50)"),
    "dashboard.times.answer_p95": ("答复时长 P95", "Time to answer, 95th percentile (P95)"),
    "dashboard.times.refund_p50": ("退款时长中位数（P50）", "Time to refund, median (P50)"),
    "dashboard.times.refund_p95": ("退款时长 P95", "Time to refund, 95th percentile (P95)"),
    "dashboard.col.measure": ("环节", "Step"),
    "dashboard.col.count": ("样本数", "Measured"),
    "dashboard.col.p50": ("中位数（P50）", "Median (P50)"),
    "dashboard.col.p95": ("第 95 百分位（P95）", "95th percentile (P95)"),
    "dashboard.dur.s": ("{s} 秒", "{s} s"),
    "dashboard.dur.m": ("{m} 分 {s} 秒", "{m} min {s} s"),
    "dashboard.dur.h": ("{h} 小时 {m} 分", "{h} h {m} min"),
    "dashboard.dur.d": ("{d} 天 {h} 小时", "{d} d {h} h"),
    # disputes
    "dashboard.disputes.title": ("争议（平台介入）", "Disputes (platform arbitration)"),
    "dashboard.disputes.rate": ("争议率", "Dispute rate"),
    "dashboard.disputes.rule": ("争议率 = 申请过平台介入的售后单 ÷ 期间内新开的售后单。",
                                "Dispute rate = cases where the platform's arbitration was asked for ÷ cases "
                                "opened in the period."),
    "dashboard.disputes.cases": ("新开售后单", "Cases opened"),
    "dashboard.disputes.disputed": ("有争议", "Disputed"),
    "dashboard.disputes.buyer_won": ("判买家胜", "Buyer won"),
    "dashboard.disputes.merchant_won": ("判商家胜", "Merchant won"),
    # money
    "dashboard.money.title": ("拦截费用与找回货值", "Intercept fees against value recovered"),
    "dashboard.money.fees": ("拦截费用", "Intercept fees"),
    "dashboard.money.fees_count": ("报了费用的拦截", "Intercepts with a quoted fee"),
    "dashboard.money.fees_other": ("其他币种费用", "Fees in other currencies"),
    "dashboard.money.goods": ("完好退回的货值", "Goods back in good order"),
    "dashboard.money.goods_count": ("完好退回的包裹", "Parcels back in good order"),
    "dashboard.money.payouts": ("理赔到账", "Claim payouts"),
    "dashboard.money.recovered": ("找回合计", "Recovered in all"),
    "dashboard.money.rule": ("费用为快递公司受理拦截时报出的人民币费用；找回 = 验收完好的退回包裹货值 + 理赔到账。",
                             "Fees are what the carriers quoted in CNY when accepting an intercept; recovered = "
                             "value of parcels received back in good order + claim payouts."),
    "dashboard.chart.money": ("拦截费用与找回货值", "Intercept fees against value recovered"),
    "dashboard.chart.money.desc": ("拦截费用 {fees}；完好退回的货值 {goods}；理赔到账 {payouts}。",
                                   "Intercept fees {fees}; goods back in good order {goods}; claim payouts "
                                   "{payouts}."),
    "dashboard.col.item": ("项目", "Item"),
    "dashboard.col.amount": ("金额", "Amount"),
    "dashboard.col.number": ("数量", "Count"),
    # returns
    "dashboard.returns.title": ("退货在途（当前）", "Returns under way (now)"),
    "dashboard.returns.in_transit": ("退回途中", "On the way back"),
    "dashboard.returns.stalled": ("停滞", "Stalled"),
    "dashboard.returns.awaiting": ("已退签待入库", "Signed for, not yet received"),
    "dashboard.chart.returns": ("当前退货在途", "Returns under way now"),
    "dashboard.chart.returns.desc": ("退回途中 {moving} 件，停滞 {stalled} 件，已退签待入库 {awaiting} 件。",
                                     "{moving} on the way back, {stalled} stalled, {awaiting} signed for and not "
                                     "yet received."),
    "dashboard.col.goods_value": ("货值", "Goods value"),
    # claims
    "dashboard.claims.title": ("理赔", "Claims"),
    "dashboard.claims.open": ("未结理赔", "Claims open"),
    "dashboard.claims.paid": ("已赔付理赔", "Claims paid"),
    "dashboard.claims.rule": ("期间内新开售后单的理赔：未结 = 尚未赔付、驳回或关闭（金额为申请金额）；"
                              "已赔付金额为实际到账。",
                              "Claims of the cases opened in the period: open = not yet paid, rejected or closed "
                              "(amount asked); paid = money received."),
}

# Stages: the parcel's tracking status when the intercept was requested.
MESSAGES.update({
    "dashboard.stage.created": ("待揽收", "Label printed"),
    "dashboard.stage.picked_up": ("已揽收", "Picked up"),
    "dashboard.stage.in_transit": ("运输中", "In transit"),
    "dashboard.stage.at_destination": ("到达目的网点", "At destination outlet"),
    "dashboard.stage.out_for_delivery": ("派件中", "Out for delivery"),
    "dashboard.stage.delivered": ("已签收", "Delivered"),
    "dashboard.stage.delivery_failed": ("派送失败", "Delivery failed"),
    "dashboard.stage.exception": ("疑难件", "Exception"),
    "dashboard.stage.returning": ("退回中", "Returning"),
    "dashboard.stage.returned": ("已退签", "Returned"),
    "dashboard.stage.lost": ("丢失", "Lost"),
    "dashboard.stage.damaged": ("破损", "Damaged"),
    "dashboard.stage.expired": ("轨迹中止", "Tracking stopped"),
})
