"""Settings → the shop: its name, id and time zone."""

MESSAGES = {
    "settings.nav.shop": ("店铺", "Shop"),
    "settings.about.shop": ("店铺名称、编号，以及控制台显示时间所用的时区。",
                            "The shop's name and id, and the time zone the console shows times in."),
    "settings.shop.name": ("店铺名称", "Name"),
    "settings.shop.id": ("店铺编号", "Shop id"),
    "settings.shop.timezone_now": ("当前时区", "Time zone"),
    "settings.shop.timezone": ("时区", "Time zone"),
    "settings.shop.timezone_help": ("控制台里的所有时间都按这个时区显示；数据本身以 UTC 保存。",
                                    "Every time in the console is shown in this zone; lanjie stores UTC."),
    "settings.shop.invalid": ("时区不对：", "Not a time zone:"),
    "settings.notice.shop_saved": ("时区已保存。", "Time zone saved."),
}
