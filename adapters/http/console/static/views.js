// The views, by the first part of the address's #/ path.
import { accountView } from "./account.js";
import { portfolioView } from "./portfolio.js";
import { queueView } from "./queue.js";
import { reportsView } from "./reports.js";
import { reviewsView } from "./reviews.js";

export const VIEWS = {
  portfolio: portfolioView,
  account: accountView,
  queue: queueView,
  reviews: reviewsView,
  reports: reportsView,
};
