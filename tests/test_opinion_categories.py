"""The category suggested from a resident's words, the place check, and the categories' configuration."""
from __future__ import annotations

import pytest

import nlp
from bot import config as config_module
from tests.conftest import ROOT

SUGGESTED = [
    ("楼下垃圾三天没人清理", "环境卫生"),
    ("樓下垃圾好臭", "环境卫生"),
    ("小区里老鼠很多", "环境卫生"),
    ("天天有人在路口乱摆卖", "市容秩序"),
    ("楼顶有违章搭建", "市容秩序"),
    ("有人在楼道飞线充电很危险", "治安安全"),
    ("我的电动车被偷了", "治安安全"),
    ("物业不管电梯，坏了一个星期", "物业管理"),
    ("小区门口乱停车堵住了路", "交通出行"),
    ("公交车站牌不见了", "交通出行"),
    ("楼上装修太吵了", "噪音扰民"),
    ("广场舞音响声音太大", "噪音扰民"),
    ("小区门口的路灯坏了一个星期", "公共设施"),
    ("路边井盖丢了", "公共设施"),
    ("想问问低保怎么申请", "民生服务"),
    ("你们这个公众号做得不错", "其他"),
]


@pytest.mark.parametrize("text,expected", SUGGESTED)
def test_a_category_is_suggested_from_the_words(text, expected):
    assert nlp.category(text) == expected


@pytest.mark.parametrize("text,says_where", [
    ("楼下垃圾三天没人清理", True), ("3栋电梯坏了", True), ("深南路堵车", True), ("东门口有人摆摊", True),
    ("路灯坏了", False), ("噪音好大", False), ("垃圾没人收", False),
    ("晚上有人走路很吵", False), ("找街道反映好几次了", False), ("3号开始就停水了", False),
    ("我们社区垃圾太多了", False), ("小区垃圾没人清", False), ("树枝挡住了路", False),
    ("5号楼停水了", True), ("菜市场门口很脏", True), ("东门有人摆摊", True), ("小区后门的路灯坏了", True),
])
def test_a_description_that_says_where_is_recognised(text, says_where):
    assert nlp.mentions_place(text) is says_where


def test_the_example_configuration_routes_every_suggested_category():
    cfg = config_module.load(ROOT / "config.example.toml", env={})
    assert set(nlp.categories()) <= set(cfg.opinions.categories)
    assert all(spec["hours"] > 0 and spec["department"] for spec in cfg.opinions.categories.values())


@pytest.mark.parametrize("categories,problem", [
    ({"环境卫生": {"department": "城区治理办公室", "hours": 48}}, "must include the category 其他"),
    ({"其他": {"department": "党群服务中心"}}, "must be a table"),
    ({"其他": {"department": "", "hours": 48}}, "department must be a name"),
    ({"其他": {"department": "党群服务中心", "hours": 0}}, "hours must be a number"),
    ({"其他": {"department": "党群服务中心", "hours": "48"}}, "hours must be a number"),
])
def test_a_bad_categories_table_is_refused_naming_the_key(categories, problem):
    raw = {"app": {"secret_key": "x"}, "wechat": {"app_id": "a", "app_secret": "b", "token": "tok123"},
           "opinions": {"categories": categories}}
    with pytest.raises(config_module.ConfigError, match=f"opinions.categories.*{problem}"):
        config_module.build(raw, {}, "test.toml")
