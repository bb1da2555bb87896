"""Writes the hand-made PMML documents of training/pmml/documents/ (what sklearn2pmml never emits:
other normalizations, transformations, tree missing-value strategies, segmentation methods), each with
a <case>.rows.json of input rows. make_fixtures.py then scores them with JPMML-Evaluator.

    python3 training/pmml/write_documents.py
"""
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "documents")
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<PMML xmlns="http://www.dmg.org/PMML-4_{v}" version="4.{v}">\n<Header description="hand-written fixture"><Application name="modelship fixtures" version="1"/></Header>\n'


def output(classes):
    """The probabilities as Output fields (JPMML-Evaluator returns only the target without them)."""
    return "<Output>" + "".join(f'<OutputField name="probability({c})" optype="continuous" dataType="double" feature="probability" value="{c}"/>' for c in classes) + "</Output>\n"


def write(case, body, spec, version=4):
    os.makedirs(HERE, exist_ok=True)
    with open(os.path.join(HERE, case + ".pmml"), "w") as f:
        f.write(HEAD.format(v=version) + body + "</PMML>\n")
    with open(os.path.join(HERE, case + ".rows.json"), "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------- RegressionModel normalizations

LINK_DD = """<DataDictionary>
 <DataField name="y" optype="categorical" dataType="string"><Value value="yes"/><Value value="no"/></DataField>
 <DataField name="x1" optype="continuous" dataType="double"/>
 <DataField name="x2" optype="continuous" dataType="double"/>
 <DataField name="color" optype="categorical" dataType="string"><Value value="red"/><Value value="green"/><Value value="blue"/></DataField>
</DataDictionary>
"""
LINK_ROWS = [
    {"x1": x1, "x2": x2, "color": c}
    for x1, x2, c in [(0.0, 0.0, "red"), (1.5, -0.5, "green"), (-2.25, 3.0, "blue"), (0.3, 0.7, "red"), (4.0, 1.0, "green"), (-1.0, -1.0, "blue"), (0.05, 2.5, "red"), (2.0, -3.0, "blue")]
] + [{"x1": None, "x2": 1.0, "color": "red"}, {"x1": 1.0, "x2": 1.0, "color": None}]
LINK_FEATURES = [{"name": "x1", "type": "numeric"}, {"name": "x2", "type": "numeric"}, {"name": "color", "type": "categorical"}]


def regression_links():
    for method in ["logit", "probit", "cloglog", "loglog", "cauchit"]:
        body = LINK_DD + f"""<RegressionModel functionName="classification" normalizationMethod="{method}">
 <MiningSchema><MiningField name="y" usageType="target"/><MiningField name="x1"/><MiningField name="x2"/><MiningField name="color"/></MiningSchema>
 {output(["yes", "no"])}<RegressionTable intercept="-0.25" targetCategory="yes">
  <NumericPredictor name="x1" coefficient="0.8"/>
  <NumericPredictor name="x2" exponent="2" coefficient="-0.15"/>
  <CategoricalPredictor name="color" value="green" coefficient="0.6"/>
  <CategoricalPredictor name="color" value="blue" coefficient="-0.4"/>
  <PredictorTerm coefficient="0.1"><FieldRef field="x1"/><FieldRef field="x2"/></PredictorTerm>
 </RegressionTable>
 <RegressionTable intercept="0" targetCategory="no"/>
</RegressionModel>
"""
        write(f"hand_regression_{method}", body, {"task": "classification", "objective": f"RegressionModel classification, normalizationMethod {method}", "classes": ["yes", "no"], "features": LINK_FEATURES, "rows": LINK_ROWS})
    # Regression with the exp normalization (a log-link GLM written as a RegressionModel), Targets rescaling and casting.
    body = LINK_DD.replace('<DataField name="y" optype="categorical" dataType="string"><Value value="yes"/><Value value="no"/></DataField>', '<DataField name="y" optype="continuous" dataType="double"/>') + """<RegressionModel functionName="regression" normalizationMethod="exp">
 <MiningSchema><MiningField name="y" usageType="target"/><MiningField name="x1" missingValueReplacement="0.5"/><MiningField name="x2"/><MiningField name="color" missingValueReplacement="blue"/></MiningSchema>
 <Targets><Target field="y" rescaleFactor="2.5" rescaleConstant="1.0" min="1.5" max="40"/></Targets>
 <RegressionTable intercept="0.1">
  <NumericPredictor name="x1" coefficient="0.3"/>
  <NumericPredictor name="x2" coefficient="-0.2"/>
  <CategoricalPredictor name="color" value="red" coefficient="0.25"/>
 </RegressionTable>
</RegressionModel>
"""
    write("hand_regression_exp_targets", body, {"task": "regression", "objective": "RegressionModel regression, normalizationMethod exp, Targets rescale and clamp, missingValueReplacement", "features": LINK_FEATURES, "rows": LINK_ROWS})


# ---------------------------------------------------------------- transformations

def transformations():
    dd = """<DataDictionary>
 <DataField name="target" optype="continuous" dataType="double"/>
 <DataField name="age" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="120"/><Value value="-999" property="missing"/></DataField>
 <DataField name="income" optype="continuous" dataType="double"/>
 <DataField name="kids" optype="continuous" dataType="integer"/>
 <DataField name="region" optype="categorical" dataType="string"><Value value="north"/><Value value="south"/><Value value="east"/><Value value="west"/><Value value="?" property="missing"/></DataField>
 <DataField name="member" optype="categorical" dataType="boolean"/>
</DataDictionary>
"""
    td = """<TransformationDictionary>
 <DerivedField name="age_norm" optype="continuous" dataType="double">
  <NormContinuous field="age" outliers="asExtremeValues" mapMissingTo="0.5"><LinearNorm orig="18" norm="0"/><LinearNorm orig="40" norm="0.6"/><LinearNorm orig="80" norm="1"/></NormContinuous>
 </DerivedField>
 <DerivedField name="income_norm" optype="continuous" dataType="double">
  <NormContinuous field="income" outliers="asIs"><LinearNorm orig="0" norm="-1"/><LinearNorm orig="50000" norm="0"/><LinearNorm orig="200000" norm="2"/></NormContinuous>
 </DerivedField>
 <DerivedField name="is_south" optype="continuous" dataType="double"><NormDiscrete field="region" value="south" mapMissingTo="0"/></DerivedField>
 <DerivedField name="age_band" optype="categorical" dataType="string">
  <Discretize field="age" defaultValue="other" mapMissingTo="unknown">
   <DiscretizeBin binValue="young"><Interval closure="closedOpen" leftMargin="0" rightMargin="30"/></DiscretizeBin>
   <DiscretizeBin binValue="mid"><Interval closure="closedOpen" leftMargin="30" rightMargin="60"/></DiscretizeBin>
   <DiscretizeBin binValue="senior"><Interval closure="closedClosed" leftMargin="60" rightMargin="100"/></DiscretizeBin>
  </Discretize>
 </DerivedField>
 <DerivedField name="region_weight" optype="continuous" dataType="double">
  <MapValues outputColumn="w" defaultValue="1.5" mapMissingTo="-1">
   <FieldColumnPair field="region" column="r"/>
   <InlineTable><row><r>north</r><w>0.25</w></row><row><r>south</r><w>-0.75</w></row><row><r>east</r><w>2</w></row></InlineTable>
  </MapValues>
 </DerivedField>
 <DerivedField name="ratio" optype="continuous" dataType="double">
  <Apply function="/"><Apply function="+"><FieldRef field="income"/><Constant dataType="double">1000</Constant></Apply><Apply function="max"><FieldRef field="age"/><Constant dataType="double">1</Constant></Apply></Apply>
 </DerivedField>
 <DerivedField name="log_income" optype="continuous" dataType="double">
  <Apply function="if">
   <Apply function="greaterThan"><FieldRef field="income"/><Constant dataType="double">0</Constant></Apply>
   <Apply function="ln"><FieldRef field="income"/></Apply>
   <Constant dataType="double">0</Constant>
  </Apply>
 </DerivedField>
 <DerivedField name="mix" optype="continuous" dataType="double">
  <Apply function="sum">
   <Apply function="sqrt"><Apply function="abs"><Apply function="-"><FieldRef field="age"/><Constant dataType="double">50</Constant></Apply></Apply></Apply>
   <Apply function="pow"><FieldRef field="kids"/><Constant dataType="double">2</Constant></Apply>
   <Apply function="exp"><Apply function="*"><FieldRef field="age_norm"/><Constant dataType="double">-0.5</Constant></Apply></Apply>
   <Apply function="floor"><Apply function="/"><FieldRef field="income"/><Constant dataType="double">30000</Constant></Apply></Apply>
   <Apply function="ceil"><Apply function="/"><FieldRef field="income"/><Constant dataType="double">70000</Constant></Apply></Apply>
   <Apply function="round"><Apply function="*"><FieldRef field="ratio"/><Constant dataType="double">10</Constant></Apply></Apply>
   <Apply function="threshold"><FieldRef field="age"/><Constant dataType="double">45</Constant></Apply>
  </Apply>
 </DerivedField>
 <DerivedField name="flags" optype="continuous" dataType="double">
  <Apply function="avg">
   <Apply function="if"><Apply function="and"><FieldRef field="member"/><Apply function="isIn"><FieldRef field="region"/><Constant>north</Constant><Constant>east</Constant></Apply></Apply><Constant dataType="double">3</Constant><Constant dataType="double">0</Constant></Apply>
   <Apply function="if"><Apply function="or"><Apply function="not"><FieldRef field="member"/></Apply><Apply function="equal"><FieldRef field="kids"/><Constant dataType="integer">0</Constant></Apply></Apply><Constant dataType="double">1</Constant><Constant dataType="double">-1</Constant></Apply>
   <Apply function="if"><Apply function="isMissing"><FieldRef field="region"/></Apply><Constant dataType="double">5</Constant><Constant dataType="double">0.5</Constant></Apply>
   <Apply function="min"><Apply function="log10"><Apply function="+"><FieldRef field="income"/><Constant dataType="double">10</Constant></Apply></Apply><Constant dataType="double">4.5</Constant></Apply>
  </Apply>
 </DerivedField>
</TransformationDictionary>
"""
    model = """<RegressionModel functionName="regression">
 <MiningSchema>
  <MiningField name="target" usageType="target"/>
  <MiningField name="age" invalidValueTreatment="asMissing"/>
  <MiningField name="income" missingValueReplacement="40000"/>
  <MiningField name="kids" missingValueReplacement="1" outliers="asExtremeValues" lowValue="0" highValue="6"/>
  <MiningField name="region" invalidValueTreatment="asIs"/>
  <MiningField name="member" missingValueReplacement="false"/>
 </MiningSchema>
 <LocalTransformations>
  <DerivedField name="band_score" optype="continuous" dataType="double">
   <MapValues outputColumn="s" defaultValue="0" mapMissingTo="0"><FieldColumnPair field="age_band" column="b"/>
    <InlineTable><row><b>young</b><s>-1</s></row><row><b>mid</b><s>0.5</s></row><row><b>senior</b><s>2</s></row><row><b>unknown</b><s>7</s></row></InlineTable>
   </MapValues>
  </DerivedField>
 </LocalTransformations>
 <RegressionTable intercept="1.25">
  <NumericPredictor name="age_norm" coefficient="2.0"/>
  <NumericPredictor name="income_norm" coefficient="-0.5"/>
  <NumericPredictor name="is_south" coefficient="0.75"/>
  <NumericPredictor name="region_weight" coefficient="1.1"/>
  <NumericPredictor name="log_income" coefficient="0.05"/>
  <NumericPredictor name="mix" coefficient="0.01"/>
  <NumericPredictor name="flags" coefficient="0.3"/>
  <NumericPredictor name="band_score" coefficient="0.2"/>
  <CategoricalPredictor name="age_band" value="other" coefficient="-3"/>
 </RegressionTable>
</RegressionModel>
"""
    rows = [
        {"age": 35, "income": 52000, "kids": 2, "region": "north", "member": True},
        {"age": 17, "income": 0, "kids": 0, "region": "south", "member": False},
        {"age": 64, "income": 250000, "kids": 9, "region": "east", "member": True},
        {"age": 101, "income": 12000, "kids": 1, "region": "west", "member": False},
        {"age": 150, "income": 80000, "kids": 3, "region": "north", "member": True},
        {"age": -999, "income": 61000, "kids": 2, "region": "south", "member": True},
        {"age": 45, "income": None, "kids": None, "region": None, "member": None},
        {"age": 30, "income": 30000, "kids": 4, "region": "?", "member": True},
        {"age": 60, "income": 70000, "kids": 0, "region": "atlantis", "member": False},
        {"age": 80, "income": 210000, "kids": 5, "region": "east", "member": False},
        {"age": 18, "income": 49999.5, "kids": 1, "region": "west", "member": True},
        {"age": None, "income": 1000, "kids": 2, "region": "north", "member": False},
    ]
    features = [{"name": "age", "type": "numeric"}, {"name": "income", "type": "numeric"}, {"name": "kids", "type": "integer"}, {"name": "region", "type": "categorical"}, {"name": "member", "type": "boolean"}]
    write("hand_transformations", dd + td + model, {"task": "regression", "objective": "RegressionModel over NormContinuous, NormDiscrete, Discretize, MapValues and Apply", "features": features, "rows": rows})


# ---------------------------------------------------------------- tree missing-value strategies

TREE_DD = """<DataDictionary>
 <DataField name="risk" optype="categorical" dataType="string"><Value value="low"/><Value value="medium"/><Value value="high"/></DataField>
 <DataField name="temp" optype="continuous" dataType="double"/>
 <DataField name="humidity" optype="continuous" dataType="double"/>
 <DataField name="outlook" optype="categorical" dataType="string"><Value value="sunny"/><Value value="overcast"/><Value value="rain"/></DataField>
</DataDictionary>
"""
TREE_ROWS = [
    {"temp": t, "humidity": h, "outlook": o}
    for t, h, o in [(20, 50, "sunny"), (30, 80, "rain"), (15, 90, "overcast"), (25, 70, "sunny"), (25, 70, "rain"), (40, 30, "overcast"), (None, 60, "sunny"), (22, None, "rain"),
                    (28, 75, None), (None, None, None), (18, 85, "sunny"), (35, None, "overcast"), (24.5, 70, "sunny"), (10, 40, "rain")]
]
TREE_FEATURES = [{"name": "temp", "type": "numeric"}, {"name": "humidity", "type": "numeric"}, {"name": "outlook", "type": "categorical"}]


def sd(low, medium, high, conf=None):
    total = low + medium + high
    out = ""
    for value, n in (("low", low), ("medium", medium), ("high", high)):
        c = f' confidence="{conf[value]}"' if conf else ""
        out += f'<ScoreDistribution value="{value}" recordCount="{n}"{c}/>'
    return out


def tree_body(strategy, no_true):
    return TREE_DD + f"""<TreeModel functionName="classification" missingValueStrategy="{strategy}" noTrueChildStrategy="{no_true}" splitCharacteristic="multiSplit">
 <MiningSchema><MiningField name="risk" usageType="target"/><MiningField name="temp"/><MiningField name="humidity"/><MiningField name="outlook"/></MiningSchema>
 {output(["low", "medium", "high"])}<Node id="0" score="low" recordCount="100" defaultChild="1">{sd(50, 30, 20)}
  <True/>
  <Node id="1" score="low" recordCount="60" defaultChild="11">{sd(40, 15, 5, {"low": 0.6, "medium": 0.3, "high": 0.1})}
   <SimpleSetPredicate field="outlook" booleanOperator="isIn"><Array n="2" type="string">sunny overcast</Array></SimpleSetPredicate>
   <Node id="11" score="low" recordCount="35">{sd(30, 4, 1, {"low": 0.8, "medium": 0.15, "high": 0.05})}
    <CompoundPredicate booleanOperator="and"><SimplePredicate field="temp" operator="lessOrEqual" value="25"/><SimplePredicate field="humidity" operator="lessThan" value="75"/></CompoundPredicate>
   </Node>
   <Node id="12" score="medium" recordCount="20">{sd(8, 10, 2, {"low": 0.35, "medium": 0.55, "high": 0.1})}
    <CompoundPredicate booleanOperator="surrogate"><SimplePredicate field="humidity" operator="greaterOrEqual" value="75"/><SimplePredicate field="temp" operator="lessThan" value="20"/><True/></CompoundPredicate>
   </Node>
   <Node id="13" score="high" recordCount="5">{sd(2, 1, 2, {"low": 0.3, "medium": 0.3, "high": 0.4})}
    <SimplePredicate field="temp" operator="greaterThan" value="35"/>
   </Node>
  </Node>
  <Node id="2" score="high" recordCount="40" defaultChild="21">{sd(10, 15, 15, {"low": 0.2, "medium": 0.4, "high": 0.4})}
   <SimplePredicate field="outlook" operator="equal" value="rain"/>
   <Node id="21" score="medium" recordCount="25">{sd(8, 12, 5, {"low": 0.3, "medium": 0.5, "high": 0.2})}
    <CompoundPredicate booleanOperator="or"><SimplePredicate field="temp" operator="lessThan" value="22"/><SimplePredicate field="humidity" operator="lessOrEqual" value="60"/></CompoundPredicate>
   </Node>
   <Node id="22" score="high" recordCount="15">{sd(2, 3, 10, {"low": 0.1, "medium": 0.2, "high": 0.7})}
    <CompoundPredicate booleanOperator="xor"><SimplePredicate field="temp" operator="greaterOrEqual" value="22"/><SimplePredicate field="humidity" operator="notEqual" value="80"/></CompoundPredicate>
   </Node>
  </Node>
 </Node>
</TreeModel>
"""


def tree_strategies():
    # weightedConfidence and aggregateNodes are left out: JPMML-Evaluator refuses them (UnsupportedAttributeException),
    # so there is no reference to compare with, and the converter refuses them too.
    for strategy, no_true in [("none", "returnLastPrediction"), ("lastPrediction", "returnNullPrediction"), ("nullPrediction", "returnLastPrediction"), ("defaultChild", "returnLastPrediction")]:
        write(f"hand_tree_{strategy}", tree_body(strategy, no_true), {"task": "classification", "objective": f"TreeModel missingValueStrategy {strategy}, noTrueChildStrategy {no_true}", "classes": ["low", "medium", "high"], "features": TREE_FEATURES, "rows": TREE_ROWS})


def simple_tree_body(strategy, no_true):
    """Only simple predicates (the TreeEnsemble path): every comparison operator, sets, multiway splits, a scoreless inner node."""
    return TREE_DD + f"""<TreeModel functionName="classification" missingValueStrategy="{strategy}" noTrueChildStrategy="{no_true}">
 <MiningSchema><MiningField name="risk" usageType="target"/><MiningField name="temp"/><MiningField name="humidity"/><MiningField name="outlook"/></MiningSchema>
 {output(["low", "medium", "high"])}<Node score="low" recordCount="100">{sd(50, 30, 20)}<True/>
  <Node score="medium" recordCount="40">{sd(10, 25, 5)}<SimpleSetPredicate field="outlook" booleanOperator="isNotIn"><Array type="string">sunny</Array></SimpleSetPredicate>
   <Node score="high" recordCount="10">{sd(1, 3, 6)}<SimplePredicate field="temp" operator="greaterThan" value="30"/></Node>
   <Node score="medium" recordCount="20">{sd(4, 14, 2)}<SimplePredicate field="humidity" operator="greaterOrEqual" value="70"/></Node>
   <Node score="low" recordCount="6">{sd(4, 1, 1)}<SimplePredicate field="outlook" operator="notEqual" value="rain"/></Node>
  </Node>
  <Node recordCount="50"><SimplePredicate field="temp" operator="lessOrEqual" value="25"/>
   <Node score="low" recordCount="30">{sd(25, 4, 1)}<SimplePredicate field="humidity" operator="lessThan" value="75"/></Node>
   <Node score="medium" recordCount="20">{sd(6, 12, 2)}<SimplePredicate field="outlook" operator="equal" value="sunny"/></Node>
  </Node>
  <Node score="high" recordCount="10">{sd(2, 2, 6)}<SimpleSetPredicate field="outlook" booleanOperator="isIn"><Array type="string">sunny overcast</Array></SimpleSetPredicate></Node>
 </Node>
</TreeModel>
"""


def simple_trees():
    for strategy, no_true in [("none", "returnLastPrediction"), ("nullPrediction", "returnNullPrediction"), ("lastPrediction", "returnLastPrediction")]:
        write(f"hand_tree_simple_{strategy}", simple_tree_body(strategy, no_true), {"task": "classification", "objective": f"TreeModel with simple predicates only (TreeEnsemble path), missingValueStrategy {strategy}, noTrueChildStrategy {no_true}", "classes": ["low", "medium", "high"], "features": TREE_FEATURES, "rows": TREE_ROWS + [{"temp": 26, "humidity": 50, "outlook": "rain"}, {"temp": 31, "humidity": None, "outlook": "rain"}]})


# ---------------------------------------------------------------- segmentation methods

def leaf_sd(score):
    counts = {c: (14 if c == score else 3) for c in ("low", "medium", "high")}
    return "".join(f'<ScoreDistribution value="{c}" recordCount="{n}"/>' for c, n in counts.items())


def small_tree(field, cut, left, right, fn="classification"):
    if fn == "classification":
        return f"""<TreeModel functionName="classification" missingValueStrategy="lastPrediction" noTrueChildStrategy="returnLastPrediction">
 <MiningSchema><MiningField name="risk" usageType="target"/><MiningField name="{field}"/></MiningSchema>
 <Node score="{left}"><True/>{leaf_sd(left)}
  <Node score="{left}"><SimplePredicate field="{field}" operator="lessOrEqual" value="{cut}"/>{leaf_sd(left)}</Node>
  <Node score="{right}"><SimplePredicate field="{field}" operator="greaterThan" value="{cut}"/>{leaf_sd(right)}</Node>
 </Node>
</TreeModel>"""
    return f"""<TreeModel functionName="regression" missingValueStrategy="nullPrediction">
 <MiningSchema><MiningField name="level" usageType="target"/><MiningField name="{field}"/></MiningSchema>
 <Node score="0"><True/>
  <Node score="{left}"><SimplePredicate field="{field}" operator="lessOrEqual" value="{cut}"/></Node>
  <Node score="{right}"><SimplePredicate field="{field}" operator="greaterThan" value="{cut}"/></Node>
 </Node>
</TreeModel>"""


def segmentation():
    trees = [("temp", 24, "low", "high"), ("humidity", 65, "medium", "high"), ("temp", 30, "low", "medium"), ("humidity", 80, "low", "high"), ("temp", 18, "medium", "low")]
    weights = [1.0, 2.5, 0.5, 1.5, 1.0]
    for method in ["majorityVote", "weightedMajorityVote", "average", "weightedAverage"]:
        segs = "".join(f'<Segment id="{i}" weight="{w}"><True/>{small_tree(*t)}</Segment>\n' for i, (t, w) in enumerate(zip(trees, weights)))
        body = TREE_DD + f"""<MiningModel functionName="classification">
 <MiningSchema><MiningField name="risk" usageType="target"/><MiningField name="temp"/><MiningField name="humidity"/><MiningField name="outlook"/></MiningSchema>
 {output(["low", "medium", "high"])}<Segmentation multipleModelMethod="{method}">
{segs} </Segmentation>
</MiningModel>
"""
        write(f"hand_segmentation_{method}", body, {"task": "classification", "objective": f"MiningModel classification {method}", "classes": ["low", "medium", "high"], "features": TREE_FEATURES, "rows": [r for r in TREE_ROWS if r["temp"] is not None and r["humidity"] is not None]})
    reg_dd = TREE_DD.replace('<DataField name="risk" optype="categorical" dataType="string"><Value value="low"/><Value value="medium"/><Value value="high"/></DataField>', '<DataField name="level" optype="continuous" dataType="double"/>')
    reg_trees = [("temp", 24, 1.5, 4.0), ("humidity", 65, -2.0, 3.5), ("temp", 30, 0.25, 8.0), ("humidity", 80, 2.0, -1.0), ("temp", 18, 5.0, 0.5)]
    for method in ["median", "sum", "weightedAverage"]:
        segs = "".join(f'<Segment id="{i}" weight="{w}"><True/>{small_tree(*t, fn="regression")}</Segment>\n' for i, (t, w) in enumerate(zip(reg_trees, weights)))
        body = reg_dd + f"""<MiningModel functionName="regression">
 <MiningSchema><MiningField name="level" usageType="target"/><MiningField name="temp"/><MiningField name="humidity"/><MiningField name="outlook"/></MiningSchema>
 <Segmentation multipleModelMethod="{method}">
{segs} </Segmentation>
</MiningModel>
"""
        write(f"hand_segmentation_reg_{method}", body, {"task": "regression", "objective": f"MiningModel regression {method}", "features": TREE_FEATURES, "rows": TREE_ROWS})
    # selectFirst: the segment whose predicate holds first answers.
    body = reg_dd + f"""<MiningModel functionName="regression">
 <MiningSchema><MiningField name="level" usageType="target"/><MiningField name="temp"/><MiningField name="humidity"/><MiningField name="outlook"/></MiningSchema>
 <Segmentation multipleModelMethod="selectFirst">
  <Segment id="sunny"><SimplePredicate field="outlook" operator="equal" value="sunny"/>{small_tree("temp", 24, 1.5, 4.0, "regression")}</Segment>
  <Segment id="wet"><SimpleSetPredicate field="outlook" booleanOperator="isIn"><Array type="string">rain overcast</Array></SimpleSetPredicate>{small_tree("humidity", 65, -2.0, 3.5, "regression")}</Segment>
  <Segment id="rest"><True/><RegressionModel functionName="regression"><MiningSchema><MiningField name="level" usageType="target"/><MiningField name="temp"/></MiningSchema><RegressionTable intercept="10"><NumericPredictor name="temp" coefficient="0.5"/></RegressionTable></RegressionModel></Segment>
 </Segmentation>
</MiningModel>
"""
    write("hand_segmentation_selectFirst", body, {"task": "regression", "objective": "MiningModel regression selectFirst", "features": TREE_FEATURES, "rows": TREE_ROWS})


# ---------------------------------------------------------------- GeneralRegressionModel

GRM_DD = """<DataDictionary>
 <DataField name="{target}" {target_type}
 <DataField name="x1" optype="continuous" dataType="double"/>
 <DataField name="x2" optype="continuous" dataType="double"/>
 <DataField name="color" optype="categorical" dataType="string"><Value value="red"/><Value value="green"/><Value value="blue"/></DataField>
 <DataField name="exposure" optype="continuous" dataType="double"/>
</DataDictionary>
"""
GRM_FEATURES = LINK_FEATURES + [{"name": "exposure", "type": "numeric"}]
GRM_ROWS = [dict(r, exposure=e) for r, e in zip(LINK_ROWS[:8], [0.0, 0.5, -0.3, 1.2, 0.1, 0.0, 2.0, -1.0])] + [
    {"x1": 0.5, "x2": 1.0, "color": "green", "exposure": None}, {"x1": None, "x2": 1.0, "color": "red", "exposure": 0.2}]
GRM_PARAMS = """ <ParameterList><Parameter name="p0" label="Intercept"/><Parameter name="p1"/><Parameter name="p2"/><Parameter name="p3"/><Parameter name="p4"/><Parameter name="p5"/></ParameterList>
 <FactorList><Predictor name="color"/></FactorList>
 <CovariateList><Predictor name="x1"/><Predictor name="x2"/></CovariateList>
 <PPMatrix>
  <PPCell value="1" predictorName="x1" parameterName="p1"/>
  <PPCell value="2" predictorName="x2" parameterName="p2"/>
  <PPCell value="green" predictorName="color" parameterName="p3"/>
  <PPCell value="blue" predictorName="color" parameterName="p4"/>
  <PPCell value="1" predictorName="x1" parameterName="p5"/><PPCell value="red" predictorName="color" parameterName="p5"/>
 </PPMatrix>
"""


def grm_schema(target):
    return f'<MiningSchema><MiningField name="{target}" usageType="target"/><MiningField name="x1"/><MiningField name="x2"/><MiningField name="color"/><MiningField name="exposure"/></MiningSchema>'


def general_regression():
    cont = 'optype="continuous" dataType="double"/>'
    cells = lambda betas, cat="": "".join(f'<PCell {cat}parameterName="p{i}" beta="{b}"/>' for i, b in enumerate(betas) if b is not None)
    for case, attrs, betas in [
        ("hand_grm_regression", 'modelType="regression"', [0.5, 1.25, -0.3, 0.8, -0.6, 0.45]),
        ("hand_grm_glm_log_offset", 'modelType="generalizedLinear" linkFunction="log" distribution="poisson" offsetVariable="exposure"', [0.2, 0.3, -0.05, 0.4, -0.2, 0.1]),
        ("hand_grm_glm_power", 'modelType="generalizedLinear" linkFunction="power" linkParameter="0.5" distribution="gamma" offsetValue="2.5"', [1.5, 0.2, 0.01, 0.3, -0.2, 0.05]),
        ("hand_grm_glm_logit", 'modelType="generalizedLinear" linkFunction="logit" distribution="binomial"', [-0.2, 0.7, -0.1, 0.5, -0.4, 0.3]),
    ]:
        body = GRM_DD.format(target="y", target_type=cont) + f"""<GeneralRegressionModel functionName="regression" {attrs}>
 {grm_schema("y")}
{GRM_PARAMS} <ParamMatrix>{cells(betas)}</ParamMatrix>
</GeneralRegressionModel>
"""
        write(case, body, {"task": "regression", "objective": f"GeneralRegressionModel {attrs}", "features": GRM_FEATURES, "rows": GRM_ROWS})
    classes = ["low", "mid", "high"]
    target_type = 'optype="categorical" dataType="string"><Value value="low"/><Value value="mid"/><Value value="high"/></DataField>'
    body = GRM_DD.format(target="level", target_type=target_type) + f"""<GeneralRegressionModel functionName="classification" modelType="multinomialLogistic" targetReferenceCategory="high">
 {grm_schema("level")}{output(classes)}
{GRM_PARAMS} <ParamMatrix>{cells([0.3, 0.9, -0.1, 0.5, -0.7, 0.2], 'targetCategory="low" ')}{cells([-0.4, 0.2, 0.15, -0.3, 0.6, -0.5], 'targetCategory="mid" ')}</ParamMatrix>
</GeneralRegressionModel>
"""
    write("hand_grm_multinomial", body, {"task": "classification", "objective": "GeneralRegressionModel multinomialLogistic", "classes": classes, "features": GRM_FEATURES, "rows": GRM_ROWS})
    for cumulative in ["logit", "probit", "cloglog"]:
        body = GRM_DD.format(target="level", target_type=target_type.replace('optype="categorical"', 'optype="ordinal"')) + f"""<GeneralRegressionModel functionName="classification" modelType="ordinalMultinomial" cumulativeLink="{cumulative}">
 {grm_schema("level")}{output(classes)}
{GRM_PARAMS} <ParamMatrix><PCell targetCategory="low" parameterName="p0" beta="-0.5"/><PCell targetCategory="mid" parameterName="p0" beta="0.8"/>{cells([None, 0.6, -0.08, 0.4, -0.3, 0.25])}</ParamMatrix>
</GeneralRegressionModel>
"""
        write(f"hand_grm_ordinal_{cumulative}", body, {"task": "classification", "objective": f"GeneralRegressionModel ordinalMultinomial, cumulativeLink {cumulative}", "classes": classes, "features": GRM_FEATURES, "rows": GRM_ROWS})


# ---------------------------------------------------------------- Scorecard

def scorecards():
    dd = """<DataDictionary>
 <DataField name="score" optype="continuous" dataType="double"/>
 <DataField name="age" optype="continuous" dataType="double"/>
 <DataField name="income" optype="continuous" dataType="double"/>
 <DataField name="residence" optype="categorical" dataType="string"><Value value="owner"/><Value value="tenant"/><Value value="parents"/><Value value="other"/></DataField>
 <DataField name="years_at_job" optype="continuous" dataType="double"/>
</DataDictionary>
"""
    features = [{"name": "age", "type": "numeric"}, {"name": "income", "type": "numeric"}, {"name": "residence", "type": "categorical"}, {"name": "years_at_job", "type": "numeric"}]
    rows = [
        {"age": a, "income": i, "residence": r, "years_at_job": y}
        for a, i, r, y in [(22, 1200, "tenant", 0.5), (35, 3500, "owner", 6), (47, 2800, "parents", 12), (61, 5000, "owner", 25), (29, 900, "other", 2), (40, 4100, "tenant", 9),
                           (None, 2000, "owner", 3), (33, None, "tenant", 1), (55, 2600, None, 30), (18, 600, "parents", 0), (30, 3000, "owner", 4.5), (44, 1800, "other", 15)]
    ]
    for case, algorithm, head in [
        ("hand_scorecard_points_below", "pointsBelow", 'initialScore="600" useReasonCodes="true" reasonCodeAlgorithm="pointsBelow" baselineMethod="other"'),
        ("hand_scorecard_points_above", "pointsAbove", 'initialScore="500" useReasonCodes="true" reasonCodeAlgorithm="pointsAbove" baselineScore="15" baselineMethod="mean"'),
    ]:
        base = (lambda v: f' baselineScore="{v}"') if algorithm == "pointsBelow" else (lambda v: "")
        body = dd + f"""<Scorecard functionName="regression" {head}>
 <MiningSchema><MiningField name="score" usageType="predicted"/><MiningField name="age"/><MiningField name="income"/><MiningField name="residence"/><MiningField name="years_at_job" missingValueReplacement="0"/></MiningSchema>
 <Output>
  <OutputField name="final" optype="continuous" dataType="double" feature="predictedValue"/>
  <OutputField name="reason1" optype="categorical" dataType="string" feature="reasonCode" rank="1"/>
  <OutputField name="reason2" optype="categorical" dataType="string" feature="reasonCode" rank="2"/>
  <OutputField name="reason3" optype="categorical" dataType="string" feature="reasonCode" rank="3"/>
  <OutputField name="reason4" optype="categorical" dataType="string" feature="reasonCode" rank="4"/>
 </Output>
 <Characteristics>
  <Characteristic name="age_score" reasonCode="RC_AGE"{base(20)}>
   <Attribute partialScore="5"><SimplePredicate field="age" operator="isMissing"/></Attribute>
   <Attribute partialScore="2"><SimplePredicate field="age" operator="lessThan" value="25"/></Attribute>
   <Attribute partialScore="18"><CompoundPredicate booleanOperator="and"><SimplePredicate field="age" operator="greaterOrEqual" value="25"/><SimplePredicate field="age" operator="lessThan" value="45"/></CompoundPredicate></Attribute>
   <Attribute partialScore="30"><True/></Attribute>
  </Characteristic>
  <Characteristic name="income_score"{base(25)}>
   <Attribute reasonCode="RC_INCOME_MISSING" partialScore="0"><SimplePredicate field="income" operator="isMissing"/></Attribute>
   <Attribute reasonCode="RC_INCOME"><SimplePredicate field="income" operator="lessOrEqual" value="3000"/><ComplexPartialScore><Apply function="*"><FieldRef field="income"/><Constant dataType="double">0.01</Constant></Apply></ComplexPartialScore></Attribute>
   <Attribute reasonCode="RC_INCOME" partialScore="35"><True/></Attribute>
  </Characteristic>
  <Characteristic name="residence_score" reasonCode="RC_RESIDENCE"{base(12)}>
   <Attribute partialScore="20"><SimplePredicate field="residence" operator="equal" value="owner"/></Attribute>
   <Attribute partialScore="8"><SimpleSetPredicate field="residence" booleanOperator="isIn"><Array type="string">tenant parents</Array></SimpleSetPredicate></Attribute>
   <Attribute partialScore="4"><True/></Attribute>
  </Characteristic>
  <Characteristic name="job_score" reasonCode="RC_AGE"{base(10)}>
   <Attribute partialScore="1"><SimplePredicate field="years_at_job" operator="lessThan" value="1"/></Attribute>
   <Attribute partialScore="9"><SimplePredicate field="years_at_job" operator="lessThan" value="10"/></Attribute>
   <Attribute partialScore="16"><True/></Attribute>
  </Characteristic>
 </Characteristics>
</Scorecard>
"""
        write(case, body, {"task": "scorecard", "objective": f"Scorecard, reasonCodeAlgorithm {algorithm}", "features": features, "rows": rows, "reasonRanks": 4})


if __name__ == "__main__":
    simple_trees()
    scorecards()
    general_regression()
    regression_links()
    transformations()
    tree_strategies()
    segmentation()
