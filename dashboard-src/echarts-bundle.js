// The parts of Apache ECharts the dashboard uses, and nothing else (about half the full build).
import * as echarts from "echarts/core";
import { BarChart, CustomChart, LineChart, ScatterChart, ParallelChart } from "echarts/charts";
import {
  GridComponent,
  TooltipComponent,
  LegendComponent,
  VisualMapComponent,
  ParallelComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  CustomChart,
  LineChart,
  ScatterChart,
  ParallelChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  VisualMapComponent,
  ParallelComponent,
  CanvasRenderer,
]);

export const init = echarts.init;
export const getInstanceByDom = echarts.getInstanceByDom;
export const version = echarts.version;
