package bitrixtest

import (
	"fmt"
	"time"

	"github.com/hookflow/hookflow/internal/samples"
)

// SampleTime is the dateInsert of sample orders; dateUpdate is one minute
// later.
var SampleTime = samples.BitrixSampleTime

// NewOrder returns a sale.order.get order (camelCase, shaped like the
// vendor's documented answer) with the given id and status: one basket
// item of 15500 + 2000 delivery in KZT, FIO/EMAIL/PHONE/ADDRESS properties,
// one payment and one non-system shipment.
func NewOrder(id int64, statusID string) map[string]any {
	ins := SampleTime.Format(time.RFC3339)
	upd := SampleTime.Add(time.Minute).Format(time.RFC3339)
	return map[string]any{
		"id": id, "accountNumber": fmt.Sprint(id), "lid": "s1", "personTypeId": 1,
		"statusId": statusID, "dateStatus": ins, "empStatusId": 1,
		"dateInsert": ins, "dateUpdate": upd,
		"payed": "N", "canceled": "N", "marked": "N", "deducted": "N", "externalOrder": "N",
		"price": 17500, "discountValue": 0, "taxValue": 0, "currency": "KZT",
		"userId": 5817, "userDescription": "Позвонить за час", "comments": "",
		"reasonCanceled": "", "dateCanceled": nil, "responsibleId": 1, "version": 1, "xmlId": "",
		"basketItems": []any{map[string]any{
			"id": id*10 + 1, "orderId": id, "productId": 3921, "name": "Букет из 25 роз",
			"price": 15500, "basePrice": 15500, "discountPrice": 0, "currency": "KZT",
			"quantity": 1, "measureCode": "796", "measureName": "шт", "module": "catalog",
			"vatIncluded": "Y", "vatRate": nil, "weight": 0, "dateInsert": ins, "dateUpdate": ins,
		}},
		"propertyValues": []any{
			map[string]any{"id": id*10 + 1, "code": "FIO", "name": "Ф.И.О.", "orderPropsId": 1, "orderPropsXmlId": nil, "value": "Айгерим Сапарова"},
			map[string]any{"id": id*10 + 2, "code": "EMAIL", "name": "E-Mail", "orderPropsId": 2, "orderPropsXmlId": nil, "value": "aigerim@example.kz"},
			map[string]any{"id": id*10 + 3, "code": "PHONE", "name": "Телефон", "orderPropsId": 3, "orderPropsXmlId": nil, "value": "+77015551234"},
			map[string]any{"id": id*10 + 4, "code": "ADDRESS", "name": "Адрес доставки", "orderPropsId": 7, "orderPropsXmlId": nil, "value": "Алматы, ул. Абая 150"},
		},
		"payments": []any{map[string]any{
			"id": id*10 + 1, "orderId": id, "accountNumber": fmt.Sprintf("%d/1", id), "paid": "N",
			"paySystemId": 2, "paySystemName": "Kaspi", "sum": 17500, "currency": "KZT",
		}},
		"shipments": []any{
			map[string]any{"id": id*10 + 1, "orderId": id, "system": "Y", "priceDelivery": 0, "trackingNumber": "", "statusId": "DN"},
			map[string]any{"id": id*10 + 2, "orderId": id, "system": "N", "deliveryId": 2, "deliveryName": "Курьер",
				"priceDelivery": 2000, "basePriceDelivery": 2000, "currency": "KZT", "trackingNumber": "", "statusId": "DN"},
		},
	}
}

// NewSiteOrder returns a site-shaped order (upper-case b_sale_order fields,
// BASKET, PROPERTIES by CODE) as contrib/bitrix/webhook_integration.php
// serialises it, with the given id and status (samples.BitrixSiteOrder).
func NewSiteOrder(id int64, statusID string) map[string]any {
	return samples.BitrixSiteOrder(id, statusID)
}
